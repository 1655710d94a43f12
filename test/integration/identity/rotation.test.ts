// Leaf rotation under steady load: requests over new connections keep
// succeeding while both sides rotate several times, new handshakes present
// the new certificate, and a connection made before the rotations keeps working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { peerIdentity } from '../../../src/proxy/identity/peer-identity.ts';
import type { WorkloadIdentity } from '../../../src/proxy/identity/workload-identity.ts';
import { idOf, identityFrom, listen, tempCa } from './mesh-pki.ts';

const LEAF_TTL_MS = 1200; // renewal at 2/3: a new leaf about every 800 ms
const ROTATIONS = 4;

function connect(client: WorkloadIdentity, port: number): { session: http2.ClientHttp2Session; socket: () => TLSSocket } {
  let socket!: TLSSocket;
  const session = http2.connect(`https://payments:${port}`, {
    createConnection: () => (socket = client.connect({ host: '127.0.0.1', port, expectedSpiffeId: idOf('payments'), alpn: ['h2'] })),
  });
  // Errors surface through the request that fails; keep them off uncaughtException.
  session.on('error', () => {});
  return { session, socket: () => socket };
}

async function get(session: http2.ClientHttp2Session): Promise<{ status: number; body: string }> {
  const req = session.request({ ':path': '/' });
  let status = 0;
  req.on('response', (h) => (status = Number(h[':status'])));
  let body = '';
  req.setEncoding('utf8');
  for await (const chunk of req) body += chunk;
  return { status, body };
}

test('rotation under load loses no request; new handshakes get the new serial; old connections live on', async (t) => {
  const ca = await tempCa(t, { leafTtlMs: LEAF_TTL_MS });
  const payments = await identityFrom(t, ca, 'payments');
  const orders = await identityFrom(t, ca, 'orders');
  const issued = [payments.current().serial];
  payments.onRotate((m) => issued.push(m.serial));

  const srv = http2.createSecureServer({ ...payments.serverOptions(), allowHTTP1: true }, (req, res) => {
    res.end(peerIdentity(req.stream.session!.socket as TLSSocket).service ?? 'anonymous');
  });
  t.after(payments.attachServer(srv));
  const port = await listen(t, srv);

  // One connection made before any rotation; it must survive all of them.
  const old = connect(orders, port);
  t.after(() => old.session.close());
  assert.equal((await get(old.session)).body, 'orders');
  const oldSerial = old.socket().getPeerCertificate().serialNumber.toLowerCase();
  assert.equal(oldSerial, issued[0]);

  let ok = 0;
  const failures: string[] = [];
  const seenAfterRotation: Array<{ expectedAtLeast: number; got: string }> = [];
  const worker = async () => {
    while (issued.length <= ROTATIONS) {
      const rotationsBefore = issued.length;
      const c = connect(orders, port);
      try {
        const r = await get(c.session);
        if (r.status === 200 && r.body === 'orders') ok++;
        else failures.push(`status ${r.status} body ${r.body}`);
        const peer = peerIdentity(c.socket());
        seenAfterRotation.push({ expectedAtLeast: rotationsBefore - 1, got: peer.serial ?? '?' });
      } catch (err) {
        failures.push(String(err));
      } finally {
        c.session.close();
      }
    }
  };
  await Promise.all([worker(), worker(), worker()]);

  assert.deepEqual(failures, []);
  assert.ok(ok > ROTATIONS * 3, `only ${ok} requests ran`);
  assert.ok(issued.length > ROTATIONS, 'the server rotated');
  assert.equal(new Set(issued).size, issued.length, 'every rotation brings a new serial');
  // A connection that started after rotation k never presents an older leaf.
  for (const s of seenAfterRotation) {
    const index = issued.indexOf(s.got);
    assert.ok(index >= s.expectedAtLeast, `presented serial #${index} after rotation #${s.expectedAtLeast}`);
  }
  const distinct = new Set(seenAfterRotation.map((s) => s.got));
  assert.ok(distinct.size >= ROTATIONS - 1, `new connections saw ${distinct.size} serials`);

  // A handshake right after a rotation presents exactly the new leaf.
  const rotated = new Promise<string>((resolve) => {
    const off = payments.onRotate((m) => {
      off();
      resolve(m.serial);
    });
  });
  const newest = await rotated;
  const fresh = connect(orders, port);
  t.after(() => fresh.session.close());
  assert.equal((await get(fresh.session)).body, 'orders');
  const presented = fresh.socket().getPeerCertificate().serialNumber.toLowerCase();
  assert.ok(issued.indexOf(presented) >= issued.indexOf(newest), 'a new handshake uses the newest leaf');

  // The first connection still works, on the certificate it started with.
  assert.equal((await get(old.session)).body, 'orders');
  assert.equal(old.socket().getPeerCertificate().serialNumber.toLowerCase(), oldSerial);
});
