// Graceful drain: inbound stops accepting at once and finishes what is in
// flight (answered with `connection: close`), while the outbound listener
// keeps serving the app's calls; drain() returns when nothing is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { request } from '../../harness/http-client.ts';
import { eventually } from '../../harness/eventually.ts';
import { httpUpstream } from '../../harness/upstream-servers.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { metric } from './metric-value.ts';

test('drain keeps outbound calls working while inbound is closed', async (t) => {
  const held: ServerResponse[] = [];
  const app = await httpUpstream((_req, res) => void held.push(res));
  const payments = await httpUpstream((_req, res) => res.writeHead(200).end('paid'));
  t.after(async () => {
    for (const r of held) if (!r.writableEnded) r.destroy();
    await app.close();
    await payments.close();
  });
  const inbound = httpListener('in', [{ name: 'local', destinations: [{ cluster: 'app' }] }], { direction: 'inbound' });
  const outbound = httpListener('out', [{ name: 'pay', destinations: [{ cluster: 'payments' }] }]);
  const p = await startTestProxy(snapshot([inbound, outbound], [cluster('app', [app.port]), cluster('payments', [payments.port])], { drainMs: 20_000 }));
  t.after(() => p.close().catch(() => {}));
  const inPort = p.port('in');
  const outPort = p.port('out');
  const admin = p.adminPort();

  const inflight = request(inPort, { headers: { host: 'orders' } });
  await eventually(() => assert.equal(held.length, 1));
  let drained = false;
  const draining = p.proxy.drain().then(() => (drained = true));

  // Inbound refuses new connections...
  await eventually(async () => {
    await assert.rejects(request(inPort, { headers: { host: 'orders' } }), { code: 'ECONNREFUSED' });
  });
  // ...while the app's outbound calls go on.
  for (let i = 0; i < 5; i++) {
    const r = await request(outPort, { headers: { host: 'payments' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'paid');
  }
  assert.equal(await metric(admin, 'mesh_requests_total', { listener: 'out', status_code: '200' }), 5);
  assert.equal(drained, false);

  // The in-flight inbound request completes, told to close its connection.
  held[0]!.end('done');
  const r = await inflight;
  assert.equal(r.status, 200);
  assert.equal(r.body, 'done');
  assert.equal(r.headers.connection, 'close');
  // Nothing in flight any more: drain ends well before its 20 s.
  await draining;
  await assert.rejects(request(outPort, { headers: { host: 'payments' } }), { code: 'ECONNREFUSED' });
});
