// Counted on the receiving sidecar (mesh_tls_handshakes_total{resumed}): new
// app connections through an mTLS pair almost never cost a full
// sidecar-to-sidecar handshake. HTTP rides one multiplexed h2 session per peer
// pair; opaque TCP needs a TLS connection per app connection, and resumes the
// session from a ticket instead of a full handshake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { meshPair, metricValue } from './mtls-harness.ts';

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    // agent: false, so each request is a new app connection.
    http.get({ host: '127.0.0.1', port, path, headers: { host: 'payments' }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

function tcpRoundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    s.once('data', (d) => {
      resolve(String(d));
      s.end();
    });
    s.on('error', reject);
  });
}

test('HTTP: 200 new app connections cause at most 1% full handshakes on the receiving sidecar', async (t) => {
  const { caller, callee } = await meshPair(t);
  const N = 200;
  for (let i = 0; i < N; i++) assert.equal(await get(caller.port('out'), `/n${i}`), 200);
  const m = await callee.metrics();
  const full = metricValue(m, 'mesh_tls_handshakes_total', { listener: 'in', resumed: 'false' });
  const all = metricValue(m, 'mesh_tls_handshakes_total', { listener: 'in' });
  assert.ok(all >= 1, `the receiving sidecar counts its handshakes (${all})`);
  assert.ok(full / N < 0.01, `${full} full handshakes for ${N} new app connections`);
});

test('TCP: each app connection is a new TLS connection, resumed from a ticket: under 1% full handshakes', async (t) => {
  const { caller, callee } = await meshPair(t, { protocol: 'tcp' });
  const N = 150;
  for (let i = 0; i < N; i++) assert.equal(await tcpRoundTrip(caller.port('out'), `m${i}`), `echo:m${i}`);
  const m = await callee.metrics();
  const full = metricValue(m, 'mesh_tls_handshakes_total', { listener: 'in', resumed: 'false' });
  const resumed = metricValue(m, 'mesh_tls_handshakes_total', { listener: 'in', resumed: 'true' });
  assert.equal(full + resumed, N, 'one TLS connection per app connection');
  assert.ok(full / N < 0.01, `${full} full handshakes for ${N} new app connections (${resumed} resumed)`);
  // The caller's view agrees.
  const cm = await caller.metrics();
  assert.equal(metricValue(cm, 'mesh_tls_client_handshakes_total', { resumed: 'true' }), resumed);
});
