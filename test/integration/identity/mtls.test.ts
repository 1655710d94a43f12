// Mutual TLS between two sidecar identities over real sockets: the server
// learns the caller's SPIFFE id; clients without a mesh certificate are
// refused with a stated reason; sessions resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import http from 'node:http';
import http2 from 'node:http2';
import { once } from 'node:events';
import { peerIdentity } from '../../../src/proxy/identity/peer-identity.ts';
import { createKeyAndCsr } from '../../../src/proxy/identity/create-key-and-csr.ts';
import type { TlsRejection, WorkloadIdentity } from '../../../src/proxy/identity/workload-identity.ts';
import { eventually } from '../../harness/eventually.ts';
import { idOf, identityFrom, listen, tempCa, type TestContext } from './mesh-pki.ts';

/** A TLS echo server that answers each connection with the peer identity it verified. */
async function identityServer(t: TestContext, server: WorkloadIdentity) {
  const rejections: TlsRejection[] = [];
  const srv = tls.createServer(server.serverOptions(), (socket) => {
    socket.end(JSON.stringify(peerIdentity(socket)));
  });
  t.after(server.attachServer(srv, (r) => rejections.push(r)));
  const port = await listen(t, srv);
  return { port, rejections };
}

/** Connects with raw node:tls options; resolves with what the server sent or the error. */
function exchange(opts: tls.ConnectionOptions): Promise<{ data: string; error?: Error & { code?: string } }> {
  return new Promise((resolve) => {
    const socket = tls.connect(opts);
    let data = '';
    let error: (Error & { code?: string }) | undefined;
    socket.on('data', (d) => (data += d));
    socket.on('error', (e) => (error = e));
    socket.on('close', () => resolve({ data, error }));
  });
}

test('mutual TLS: the server sees the caller SPIFFE id and TLS 1.3, the client sees the server id', async (t) => {
  const ca = await tempCa(t);
  const payments = await identityFrom(t, ca, 'payments');
  const orders = await identityFrom(t, ca, 'orders');
  const { port } = await identityServer(t, payments);

  const socket = orders.connect({ host: '127.0.0.1', port, expectedSpiffeId: idOf('payments') });
  await once(socket, 'secureConnect');
  const client = peerIdentity(socket);
  assert.equal(client.spiffeId, idOf('payments'));
  assert.equal(client.serial, payments.current().serial);
  assert.equal(client.tlsVersion, 'TLSv1.3');
  assert.equal(client.alpn, 'h2');
  let body = '';
  for await (const chunk of socket) body += chunk;
  const seen = JSON.parse(body);
  assert.equal(seen.spiffeId, idOf('orders'));
  assert.equal(seen.service, 'orders');
  assert.equal(seen.project, 'shop');
  assert.equal(seen.serial, orders.current().serial);
  assert.equal(seen.tlsVersion, 'TLSv1.3');
});

async function httpServer(t: TestContext, payments: WorkloadIdentity): Promise<number> {
  const srv = http2.createSecureServer({ ...payments.serverOptions(), allowHTTP1: true }, (req, res) => {
    const peer = peerIdentity(req.socket as tls.TLSSocket);
    res.end(`${peer.service} ${peer.tlsVersion} ${peer.alpn}`);
  });
  t.after(payments.attachServer(srv));
  return listen(t, srv);
}

test('HTTP/2 over mutual TLS: the handler reads the caller identity', async (t) => {
  const ca = await tempCa(t);
  const payments = await identityFrom(t, ca, 'payments');
  const orders = await identityFrom(t, ca, 'orders');
  const port = await httpServer(t, payments);
  const session = http2.connect(`https://payments:${port}`, {
    createConnection: () => orders.connect({ host: '127.0.0.1', port, expectedSpiffeId: idOf('payments'), alpn: ['h2'] }),
  });
  t.after(() => session.close());
  const req = session.request({ ':path': '/' });
  let body = '';
  req.setEncoding('utf8');
  for await (const chunk of req) body += chunk;
  assert.equal(body, 'orders TLSv1.3 h2');
});

test('HTTP/1.1 over mutual TLS on the same server: ALPN picks http/1.1', async (t) => {
  const ca = await tempCa(t);
  const payments = await identityFrom(t, ca, 'payments');
  const orders = await identityFrom(t, ca, 'orders');
  const port = await httpServer(t, payments);
  const body = await new Promise<string>((resolve, reject) => {
    const req = http.request(
      { path: '/', headers: { host: 'payments' }, createConnection: () => orders.connect({ host: '127.0.0.1', port, expectedSpiffeId: idOf('payments'), alpn: ['http/1.1'] }) },
      (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve(b));
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(body, 'orders TLSv1.3 http/1.1');
});

test('a client without a certificate is refused: certificate required', async (t) => {
  const ca = await tempCa(t);
  const payments = await identityFrom(t, ca, 'payments');
  const { port, rejections } = await identityServer(t, payments);
  const r = await exchange({ host: '127.0.0.1', port, ca: ca.trustBundlePem(), minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
  assert.equal(r.data, '', 'the server must not answer');
  assert.equal(r.error?.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
  await eventually(() => assert.equal(rejections[0]?.reason, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'));
});

test('a client with a certificate from another CA is refused: the leaf signature cannot be verified', async (t) => {
  const ca = await tempCa(t);
  const otherCa = await tempCa(t);
  const payments = await identityFrom(t, ca, 'payments');
  // Same service name and trust domain, but not signed by this mesh's root.
  const impostor = await identityFrom(t, otherCa, 'orders');
  impostor.updateTrustBundle(ca.trustBundlePem()); // it trusts the server; the server must not trust it
  const { port, rejections } = await identityServer(t, payments);
  const r = await exchange({ ...impostor.clientOptions(idOf('payments')), host: '127.0.0.1', port });
  assert.equal(r.data, '', 'the server must not answer');
  await eventually(() => assert.equal(rejections[0]?.reason, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'));
  assert.match(rejections[0]!.message, /client refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
});

test('a client with an expired certificate is refused, and the message names the clock', async (t) => {
  const ca = await tempCa(t);
  const payments = await identityFrom(t, ca, 'payments');
  // The same root, but a CA clock two days back: the leaf expired yesterday.
  const pastCa = await tempCa(t, { stateDir: ca.stateDir, now: () => Date.now() - 48 * 3600_000, leafTtlMs: 3600_000 });
  const expired = await identityFrom(t, pastCa, 'orders');
  const { port, rejections } = await identityServer(t, payments);
  const r = await exchange({ ...expired.clientOptions(idOf('payments')), host: '127.0.0.1', port });
  assert.equal(r.data, '', 'the server must not answer');
  await eventually(() => assert.equal(rejections[0]?.reason, 'CERT_HAS_EXPIRED'));
  const m0 = expired.current();
  assert.ok(rejections[0]!.message.includes(`valid from ${m0.notBefore.toISOString()} to ${m0.notAfter.toISOString()}`), rejections[0]!.message);
  assert.match(rejections[0]!.message, /local clock is \d{4}-\d\d-\d\dT/);
  // The client itself refuses to offer a certificate it knows is expired,
  // saying when it was valid and what its clock says.
  assert.throws(
    () => expired.connect({ host: '127.0.0.1', port, expectedSpiffeId: idOf('payments') }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MESH_ERR_CERT_EXPIRED');
      const m = expired.current();
      assert.ok(err.message.includes(m.notBefore.toISOString()), err.message);
      assert.ok(err.message.includes(m.notAfter.toISOString()), err.message);
      assert.match(err.message, /local clock is/);
      return true;
    },
  );
});

test('a server with an expired certificate is refused by the client with both times and the local clock', async (t) => {
  const ca = await tempCa(t);
  const pastCa = await tempCa(t, { stateDir: ca.stateDir, now: () => Date.now() - 48 * 3600_000, leafTtlMs: 3600_000 });
  const stale = await identityFrom(t, pastCa, 'payments');
  const orders = await identityFrom(t, ca, 'orders');
  const { port } = await identityServer(t, stale);
  const socket = orders.connect({ host: '127.0.0.1', port, expectedSpiffeId: idOf('payments') });
  const [err] = (await once(socket, 'error').catch((e) => [e])) as [Error & { code?: string }];
  assert.equal(err.code, 'CERT_HAS_EXPIRED');
  const m = stale.current();
  assert.ok(err.message.includes(`valid from ${m.notBefore.toISOString()} to ${m.notAfter.toISOString()}`), err.message);
  assert.match(err.message, /local clock is/);
});

test('a server presenting another mesh identity is refused by the client', async (t) => {
  const ca = await tempCa(t);
  const reviews = await identityFrom(t, ca, 'reviews');
  const orders = await identityFrom(t, ca, 'orders');
  const { port } = await identityServer(t, reviews);
  const socket = orders.connect({ host: '127.0.0.1', port, expectedSpiffeId: idOf('payments') });
  const [err] = (await once(socket, 'error').catch((e) => [e])) as [Error & { code?: string }];
  assert.equal(err.code, 'MESH_ERR_TLS_PEER_REJECTED');
  assert.match(err.message, /presented spiffe:\/\/mesh\.local\/compose\/shop\/svc\/reviews, expected .*svc\/payments/);
});

test('sessions resume: the second connection skips the full handshake and keeps both identities', async (t) => {
  const ca = await tempCa(t);
  const payments = await identityFrom(t, ca, 'payments');
  const orders = await identityFrom(t, ca, 'orders');
  const { port } = await identityServer(t, payments);
  const round = async () => {
    const socket = orders.connect({ host: '127.0.0.1', port, expectedSpiffeId: idOf('payments') });
    await once(socket, 'secureConnect');
    const reused = socket.isSessionReused();
    const client = peerIdentity(socket);
    let body = '';
    for await (const chunk of socket) body += chunk;
    return { reused, client, server: JSON.parse(body) };
  };
  const first = await round();
  assert.equal(first.reused, false);
  const second = await round();
  assert.equal(second.reused, true);
  assert.equal(second.server.resumed, true);
  assert.equal(second.server.spiffeId, idOf('orders'), 'the server still knows the caller on a resumed session');
  assert.equal(second.client.spiffeId, idOf('payments'), 'the client still knows the server on a resumed session');
});

test('a key the CSR does not match cannot get a certificate for it', async (t) => {
  const ca = await tempCa(t);
  const { csrPem } = await createKeyAndCsr('orders');
  const res = await ca.sign({ csrPem, service: 'orders' });
  // A proxy that got someone else's certificate refuses to install it.
  await assert.rejects(
    identityFrom(t, ca, 'orders', { signer: async () => res }),
    (err: Error & { code?: string }) => err.code === 'MESH_ERR_IDENTITY_UNAVAILABLE' && /another key/.test(err.message),
  );
});
