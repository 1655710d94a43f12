// Certificate rotation under steady load through an mTLS pair: both sidecars
// renew several times while requests flow; none fails, live sessions finish on
// the old certificate and new handshakes get the new one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import tls from 'node:tls';
import { meshPair, metricValue } from './mtls-harness.ts';

function serverSerial(port: number, client: { keyPem: string; certChainPem: string; trustBundlePem: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, key: client.keyPem, cert: client.certChainPem, ca: client.trustBundlePem, checkServerIdentity: () => undefined, ALPNProtocols: ['h2'] }, () => {
      resolve(s.getPeerCertificate().serialNumber.toLowerCase());
      s.destroy();
    });
    s.on('error', reject);
  });
}

test('rotation under steady load loses no request; new handshakes use the new leaf', async (t) => {
  const { caller, callee, ordersId, paymentsId } = await meshPair(t);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.after(() => agent.destroy());
  let ok = 0;
  const failures: string[] = [];
  let stop = false;
  const worker = async () => {
    while (!stop) {
      await new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: caller.port('out'), path: '/pay', headers: { host: 'payments' }, agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) ok++;
            else failures.push(`${res.statusCode} ${res.headers['x-mesh-error'] ?? ''}`);
            resolve();
          });
        });
        req.on('error', (e) => {
          failures.push(e.message);
          resolve();
        });
      });
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  const serials = new Set<string>([paymentsId.current().serial]);
  for (let i = 0; i < 4; i++) {
    const before = ok;
    while (ok < before + 100) await new Promise((r) => setImmediate(r));
    await Promise.all([ordersId.renewNow(), paymentsId.renewNow()]);
    serials.add(paymentsId.current().serial);
    // A new handshake against the callee now sees the callee's new leaf.
    assert.equal(await serverSerial(callee.port('in'), ordersId.current()), paymentsId.current().serial);
  }
  const before = ok;
  while (ok < before + 100) await new Promise((r) => setImmediate(r));
  stop = true;
  await Promise.all(workers);
  assert.equal(serials.size, 5, 'four rotations, five leaves');
  assert.deepEqual(failures, []);
  assert.ok(ok >= 500, `requests served: ${ok}`);
  // Each caller rotation retires its h2 session (GOAWAY); the next one handshakes with the new leaf.
  const hs = metricValue(await caller.metrics(), 'mesh_tls_client_handshakes_total', { cluster: 'out:payments', resumed: 'false' });
  assert.ok(hs >= 5, `full handshakes: ${hs}`);
});
