// Circuit breaking (a full pending queue or too many requests answer 503 at
// once) and outlier detection (an endpoint returning 5xx is ejected, then
// comes back), over real sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { request } from '../../harness/http-client.ts';
import { eventually } from '../../harness/eventually.ts';
import { httpUpstream } from '../../harness/upstream-servers.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { metric } from './metric-value.ts';

const route = [{ name: 'pay', destinations: [{ cluster: 'payments' }] }];

async function heldUpstream(t: import('node:test').TestContext) {
  const held: ServerResponse[] = [];
  const up = await httpUpstream((_req, res) => void held.push(res));
  t.after(async () => {
    for (const r of held) if (!r.writableEnded) r.destroy();
    await up.close();
  });
  return { up, held };
}

test('a full pending queue answers 503 circuit-open at once, never a hang', async (t) => {
  const { up, held } = await heldUpstream(t);
  const limits = { maxConnections: 1, maxPendingRequests: 1, maxRequests: 100 };
  const p = await startTestProxy(snapshot([httpListener('out', route)], [cluster('payments', [up.port], { connectionLimits: limits })]));
  t.after(() => p.close());
  const first = request(p.port(), { headers: { host: 'payments' } });
  await eventually(() => assert.equal(held.length, 1));
  const second = request(p.port(), { headers: { host: 'payments' } }); // waits for the one connection
  // The second request sits in the pool's queue: two in flight on the endpoint, one upstream.
  await eventually(async () => {
    const stats = JSON.parse((await request(p.adminPort(), { path: '/stats' })).body) as { clusters: { endpoints: { inflight: number }[] }[] };
    assert.equal(stats.clusters[0]!.endpoints[0]!.inflight, 2);
  });
  const third = await request(p.port(), { headers: { host: 'payments' } });
  assert.equal(third.status, 503);
  assert.equal(held.length, 1);
  assert.match(String(third.headers['x-mesh-error']), /^circuit-open payments max-pending-requests 1$/);
  assert.equal(await metric(p.adminPort(), 'mesh_circuit_open_total', { cluster: 'payments', limit: 'max-pending-requests' }), 1);
  // The queued ones still complete once the upstream answers.
  held[0]!.end('one');
  await eventually(() => assert.equal(held.length, 2));
  held[1]!.end('two');
  assert.equal((await first).body, 'one');
  assert.equal((await second).body, 'two');
});

test('maxRequests refuses the request over the limit with circuit-open', async (t) => {
  const { up, held } = await heldUpstream(t);
  const limits = { maxConnections: 10, maxPendingRequests: 10, maxRequests: 2 };
  const p = await startTestProxy(snapshot([httpListener('out', route)], [cluster('payments', [up.port], { connectionLimits: limits })]));
  t.after(() => p.close());
  const inflight = [request(p.port(), { headers: { host: 'payments' } }), request(p.port(), { headers: { host: 'payments' } })];
  await eventually(() => assert.equal(held.length, 2));
  const r = await request(p.port(), { headers: { host: 'payments' } });
  assert.equal(r.status, 503);
  assert.equal(r.headers['x-mesh-error'], 'circuit-open payments max-requests 2');
  assert.equal(await metric(p.adminPort(), 'mesh_circuit_open_total', { limit: 'max-requests' }), 1);
  for (const h of held) h.end('ok');
  await Promise.all(inflight);
  // Slots are given back: the next request goes through.
  const again = request(p.port(), { headers: { host: 'payments' } });
  await eventually(() => assert.equal(held.length, 3));
  held[2]!.end('ok');
  assert.equal((await again).status, 200);
});

test('an endpoint returning 5xx is ejected, then comes back', async (t) => {
  let failing = true;
  const bad = await httpUpstream((_req, res) => (failing ? res.writeHead(500).end('bad') : res.writeHead(200).end('bad-recovered')));
  const good = await httpUpstream((_req, res) => res.writeHead(200).end('good'));
  t.after(async () => {
    await bad.close();
    await good.close();
  });
  const od = { consecutiveErrors: 3, baseEjectionMs: 300, maxEjectionPercent: 50 };
  const p = await startTestProxy(snapshot([httpListener('out', route)], [cluster('payments', [bad.port, good.port], { lb: 'round_robin', outlierDetection: od })]));
  t.after(() => p.close());
  const get = async () => (await request(p.port(), { headers: { host: 'payments' } })).body;
  // Round robin alternates until the bad endpoint has failed 3 times in a row.
  let bads = 0;
  for (let i = 0; i < 6; i++) if ((await get()) === 'bad') bads++;
  assert.equal(bads, 3);
  assert.equal(await metric(p.adminPort(), 'mesh_outlier_ejections_total', { cluster: 'payments', endpoint: `127.0.0.1:${bad.port}` }), 1);
  assert.equal(await metric(p.adminPort(), 'mesh_outlier_ejected', { cluster: 'payments' }), 1);
  // Ejected: every request goes to the good endpoint.
  const during = await Promise.all(Array.from({ length: 8 }, get));
  assert.deepEqual(new Set(during), new Set(['good']));
  failing = false;
  // The ejection ends and the endpoint takes traffic again.
  await eventually(async () => assert.equal(await get(), 'bad-recovered'), { timeoutMs: 5000 });
  await eventually(async () => assert.equal(await metric(p.adminPort(), 'mesh_outlier_ejected', { cluster: 'payments' }), 0));
});

test('outlier detection never ejects more than maxEjectionPercent of a cluster', async (t) => {
  const a = await httpUpstream((_req, res) => res.writeHead(502).end('a'));
  const b = await httpUpstream((_req, res) => res.writeHead(502).end('b'));
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const od = { consecutiveErrors: 1, baseEjectionMs: 60_000, maxEjectionPercent: 50 };
  const p = await startTestProxy(snapshot([httpListener('out', route)], [cluster('payments', [a.port, b.port], { lb: 'round_robin', outlierDetection: od })]));
  t.after(() => p.close());
  for (let i = 0; i < 6; i++) assert.equal((await request(p.port(), { headers: { host: 'payments' } })).status, 502);
  assert.equal(await metric(p.adminPort(), 'mesh_outlier_ejections_total', { cluster: 'payments' }), 1);
  assert.equal(await metric(p.adminPort(), 'mesh_outlier_ejected', { cluster: 'payments' }), 1);
});

test('a cluster whose every endpoint is ejected still serves: ejection never cuts a service off', async (t) => {
  let fail = true;
  const only = await httpUpstream((_req, res) => res.writeHead(fail ? 503 : 200).end(fail ? 'down' : 'up'));
  t.after(() => only.close());
  const od = { consecutiveErrors: 2, baseEjectionMs: 60_000, maxEjectionPercent: 50 };
  const p = await startTestProxy(snapshot([httpListener('out', route)], [cluster('payments', [only.port], { outlierDetection: od })]));
  t.after(() => p.close());
  for (let i = 0; i < 2; i++) assert.equal((await request(p.port(), { headers: { host: 'payments' } })).status, 503);
  assert.equal(await metric(p.adminPort(), 'mesh_outlier_ejected', { cluster: 'payments' }), 1);
  // Ejected for a minute, yet the recovered upstream is reached at once, not refused with no-healthy-endpoint.
  fail = false;
  const r = await request(p.port(), { headers: { host: 'payments' } });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'up');
});

test('a snapshot that raises a cluster\'s connection limit takes effect for new requests; the old pool drains', async (t) => {
  const { up, held } = await heldUpstream(t);
  const limits = (maxConnections: number) => ({ maxConnections, maxPendingRequests: 10, maxRequests: 100 });
  const snap = (max: number, version: number) => snapshot([httpListener('out', route)], [cluster('payments', [up.port], { connectionLimits: limits(max) })], { version });
  const p = await startTestProxy(snap(1, 1));
  t.after(() => p.close());
  const first = request(p.port(), { headers: { host: 'payments' } });
  await eventually(() => assert.equal(held.length, 1));
  const queued = request(p.port(), { headers: { host: 'payments' } }); // waits for the one connection
  const applied = await p.proxy.apply(snap(3, 2));
  assert.ok(applied.ok && applied.changed);
  // The new limit holds at once: while the first request still holds the old
  // pool's only connection, a new one reaches the upstream instead of queueing.
  const third = request(p.port(), { headers: { host: 'payments' } });
  await eventually(() => assert.ok(held.length >= 2, `${held.length} reached the upstream`));
  await eventually(() => {
    for (const h of held) if (!h.writableEnded) h.end('ok');
    assert.equal(held.length, 3);
  });
  assert.deepEqual([(await first).status, (await queued).status, (await third).status], [200, 200, 200]);
});
