// Two proxies exchange HTTP (h2 over TLS 1.3) and opaque TCP over mTLS; the
// callee's app learns the caller's verified identity from the header the
// proxy sets, and a client's own copy of that header never gets through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { eventually } from '../../harness/eventually.ts';
import { meshPair, metricValue } from './mtls-harness.ts';

const ORDERS_ID = 'spiffe://mesh.local/compose/shop/svc/orders';

function get(port: number, path: string, headers: Record<string, string> = {}, agent: http.Agent | false = false): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host: 'payments', ...headers }, agent }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('HTTP over mTLS: h2 between sidecars, the app sees the verified caller, a forged header is replaced', async (t) => {
  const { caller, callee, app } = await meshPair(t);
  const r = await get(caller.port('out'), '/pay', { 'x-mesh-peer-identity': 'spiffe://mesh.local/compose/shop/svc/admin' });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(JSON.parse(r.body), { path: '/pay', peer: ORDERS_ID });
  assert.equal(app!.seen.length, 1);

  // Metrics and access log on the callee name the peer and the TLS version.
  const m = await callee.metrics();
  assert.equal(metricValue(m, 'mesh_requests_total', { direction: 'inbound', source_service: 'orders', destination_service: 'payments' }), 1);
  assert.equal(metricValue(m, 'mesh_tls_inbound_connections_total', { outcome: 'mtls' }), 1);
  const line = await eventually(() => {
    const l = callee.logs().find((x) => x.kind === 'http');
    assert.ok(l);
    return l;
  });
  assert.equal(line.source, 'orders');
  assert.equal(line.peer_identity, ORDERS_ID);
  assert.equal(line.tls_version, 'TLSv1.3');
  assert.equal(line.protocol, 'HTTP/2');
  // The caller's side counts one full handshake.
  const cm = await caller.metrics();
  assert.equal(metricValue(cm, 'mesh_tls_client_handshakes_total', { cluster: 'out:payments' }), 1);
});

test('a client cannot reach the callee app with a plaintext header: strict refuses plaintext', async (t) => {
  const { callee } = await meshPair(t);
  await assert.rejects(get(callee.port('in'), '/pay', { 'x-mesh-peer-identity': ORDERS_ID }));
  await eventually(async () => assert.equal(metricValue(await callee.metrics(), 'mesh_tls_inbound_connections_total', { outcome: 'plaintext_refused' }), 1));
});

test('opaque TCP over mTLS: bytes flow both ways and the callee names the peer', async (t) => {
  const { caller, callee } = await meshPair(t, { protocol: 'tcp' });
  const sock = net.connect(caller.port('out'), '127.0.0.1');
  t.after(() => sock.destroy());
  sock.write('hello');
  const got = await new Promise<string>((resolve) => sock.once('data', (d) => resolve(String(d))));
  assert.equal(got, 'echo:hello');
  sock.end();
  await eventually(async () => {
    const m = await callee.metrics();
    assert.equal(metricValue(m, 'mesh_tcp_connections_total', { direction: 'inbound', source_service: 'orders' }), 1);
    assert.equal(metricValue(m, 'mesh_tls_inbound_connections_total', { outcome: 'mtls' }), 1);
    const line = callee.logs().find((l) => l.kind === 'tcp');
    assert.equal(line?.peer_identity, ORDERS_ID);
    assert.equal(line?.tls_version, 'TLSv1.3');
  });
});

test('handshake reuse: 200 new app connections cause at most 1% new sidecar handshakes', async (t) => {
  const { caller } = await meshPair(t);
  const N = 200;
  for (let i = 0; i < N; i++) {
    const r = await get(caller.port('out'), `/n${i}`); // agent: false, so each request is a new app connection
    assert.equal(r.status, 200);
  }
  const m = await caller.metrics();
  const handshakes = metricValue(m, 'mesh_tls_client_handshakes_total', { cluster: 'out:payments' });
  assert.ok(handshakes >= 1 && handshakes <= N * 0.01, `handshakes ${handshakes} for ${N} app connections`);
});
