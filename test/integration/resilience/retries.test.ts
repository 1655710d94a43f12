// Retries and timeouts over real sockets: a flaky upstream hidden from GET
// clients, POST not retried by default, the budget capping an outage, a slow
// endpoint tripping the per-try timeout and the retry going elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { request } from '../../harness/http-client.ts';
import { eventually } from '../../harness/eventually.ts';
import { closedPort, http2Upstream, httpUpstream } from '../../harness/upstream-servers.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { metric } from './metric-value.ts';

const route = (extra: Record<string, unknown> = {}) => [{ name: 'pay', destinations: [{ cluster: 'payments' }], ...extra }];

test('an upstream failing 1 in 3 with 503 is invisible to a GET client with retries on', async (t) => {
  let n = 0;
  let failures = 0;
  const up = await httpUpstream((_req, res) => {
    if (++n % 3 === 0) {
      failures++;
      res.writeHead(503).end('busy');
    } else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', route({ retries: { attempts: 2, backoff: { baseMs: 1, maxMs: 5 } } }))], [cluster('payments', [up.port])]));
  t.after(() => p.close());
  const statuses: number[] = [];
  let retried = 0;
  for (let i = 0; i < 30; i++) {
    const r = await request(p.port(), { headers: { host: 'payments' } });
    statuses.push(r.status);
    if (r.headers['x-mesh-attempts'] === '2') retried++;
  }
  assert.deepEqual(new Set(statuses), new Set([200]));
  assert.ok(failures >= 10, `upstream failed ${failures} times`);
  assert.equal(retried, failures);
  assert.equal(await metric(p.adminPort(), 'mesh_retries_total', { route: 'pay', reason: '503' }), failures);
  assert.equal(await metric(p.adminPort(), 'mesh_requests_total', { route: 'pay', status_code: '200' }), 30);
  const logged = p.logs().filter((l) => l.attempts === 2);
  assert.equal(logged.length, failures);
});

test('a POST is not retried by default; with retryNonIdempotent its buffered body is sent again', async (t) => {
  const seen: { method: string; body: string }[] = [];
  const up = await httpUpstream((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, body });
      // Fail the first try of each request (odd arrivals), answer the second.
      if (seen.length % 2 === 1) res.writeHead(503).end();
      else res.writeHead(200).end(`got ${body}`);
    });
  });
  t.after(() => up.close());
  const p = await startTestProxy(
    snapshot(
      [
        httpListener('out', [
          { name: 'plain', match: { path: { prefix: '/plain' } }, destinations: [{ cluster: 'payments' }], retries: { attempts: 2, backoff: { baseMs: 1, maxMs: 2 } } },
          { name: 'optin', destinations: [{ cluster: 'payments' }], retries: { attempts: 2, retryNonIdempotent: true, backoff: { baseMs: 1, maxMs: 2 } } },
        ]),
      ],
      [cluster('payments', [up.port])],
    ),
  );
  t.after(() => p.close());
  const r1 = await request(p.port(), { method: 'POST', path: '/plain', headers: { host: 'payments' }, body: 'charge=1' });
  assert.equal(r1.status, 503);
  assert.equal(seen.length, 1);
  assert.equal(await metric(p.adminPort(), 'mesh_retries_skipped_total', { route: 'plain', reason: 'non-idempotent' }), 1);
  assert.equal(await metric(p.adminPort(), 'mesh_retries_total', { route: 'plain' }), 0);

  seen.length = 0;
  const r2 = await request(p.port(), { method: 'POST', path: '/optin', headers: { host: 'payments' }, body: 'charge=2' });
  assert.equal(r2.status, 200);
  assert.equal(r2.body, 'got charge=2');
  assert.deepEqual(
    seen.map((s) => s.body),
    ['charge=2', 'charge=2'],
  );
  assert.equal(r2.headers['x-mesh-attempts'], '2');
  assert.equal(await metric(p.adminPort(), 'mesh_retries_total', { route: 'optin', reason: '503' }), 1);
});

test('a body above maxBodyBytes is not retried', async (t) => {
  let hits = 0;
  const up = await httpUpstream((req, res) => {
    hits++;
    req.resume();
    req.on('end', () => res.writeHead(503).end());
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', route({ retries: { attempts: 2, maxBodyBytes: 1024 } }))], [cluster('payments', [up.port])]));
  t.after(() => p.close());
  const r = await request(p.port(), { method: 'PUT', headers: { host: 'payments', 'transfer-encoding': 'chunked' }, body: Buffer.alloc(4096, 'x') });
  assert.equal(r.status, 503);
  assert.equal(hits, 1);
  assert.equal(await metric(p.adminPort(), 'mesh_retries_skipped_total', { reason: 'body-too-large' }), 1);
});

test('the retry budget caps retries during an outage', async (t) => {
  let hits = 0;
  const up = await httpUpstream((_req, res) => {
    hits++;
    res.writeHead(503).end();
  });
  t.after(() => up.close());
  const budget = { ratio: 0.1, minPerSecond: 0 };
  const p = await startTestProxy(snapshot([httpListener('out', route({ retries: { attempts: 3, budget, backoff: { baseMs: 0, maxMs: 0 } } }))], [cluster('payments', [up.port])]));
  t.after(() => p.close());
  const N = 60;
  for (let i = 0; i < N; i++) assert.equal((await request(p.port(), { headers: { host: 'payments' } })).status, 503);
  const retries = await metric(p.adminPort(), 'mesh_retries_total', { route: 'pay' });
  // Without a budget this outage would cost 3 retries per request (180).
  assert.ok(retries >= 1 && retries <= budget.ratio * N, `retries ${retries}`);
  assert.equal(hits, N + retries);
  assert.ok((await metric(p.adminPort(), 'mesh_retries_skipped_total', { reason: 'budget' })) >= N - retries);
});

test('a slow endpoint trips the per-try timeout and the retry goes to another endpoint', async (t) => {
  const held: import('node:http').ServerResponse[] = [];
  const slow = await httpUpstream((_req, res) => void held.push(res));
  const fast = await httpUpstream((_req, res) => res.writeHead(200, { 'x-upstream-name': 'fast' }).end('fast'));
  t.after(async () => {
    for (const r of held) r.destroy();
    await slow.close();
    await fast.close();
  });
  const p = await startTestProxy(
    snapshot([httpListener('out', route({ retries: { attempts: 1, perTryTimeoutMs: 150, backoff: { baseMs: 1, maxMs: 2 } } }))], [cluster('payments', [slow.port, fast.port], { lb: 'round_robin' })]),
  );
  t.after(() => p.close());
  for (let i = 0; i < 6; i++) {
    const r = await request(p.port(), { headers: { host: 'payments' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'fast');
  }
  const timeouts = await metric(p.adminPort(), 'mesh_timeouts_total', { route: 'pay', kind: 'per-try' });
  assert.ok(timeouts >= 1, `per-try timeouts ${timeouts}`);
  assert.equal(held.length, timeouts);
  assert.equal(await metric(p.adminPort(), 'mesh_retries_total', { route: 'pay', reason: 'per-try-timeout' }), timeouts);
});

test('a request timeout answers 504 timeout, with the reason', async (t) => {
  const held: import('node:http').ServerResponse[] = [];
  const slow = await httpUpstream((_req, res) => void held.push(res));
  t.after(async () => {
    for (const r of held) r.destroy();
    await slow.close();
  });
  const p = await startTestProxy(snapshot([httpListener('out', route({ timeouts: { requestMs: 100 } }))], [cluster('payments', [slow.port])]));
  t.after(() => p.close());
  const r = await request(p.port(), { headers: { host: 'payments' } });
  assert.equal(r.status, 504);
  assert.match(String(r.headers['x-mesh-error']), /^timeout request 100ms payments 127\.0\.0\.1:\d+ after 1 attempt$/);
  assert.match(r.body, /^timeout request/);
  assert.equal(await metric(p.adminPort(), 'mesh_timeouts_total', { kind: 'request' }), 1);
  assert.equal(await metric(p.adminPort(), 'mesh_proxy_errors_total', { reason: 'timeout' }), 1);
});

test('an idle stream is cut after idleMs without a byte either way', async (t) => {
  const held: import('node:http').ServerResponse[] = [];
  const up = await httpUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: first\n\n');
    held.push(res);
  });
  t.after(async () => {
    for (const r of held) r.destroy();
    await up.close();
  });
  const p = await startTestProxy(snapshot([httpListener('out', route({ timeouts: { idleMs: 150 } }))], [cluster('payments', [up.port])]));
  t.after(() => p.close());
  const outcome = await new Promise<string>((resolve) => {
    const r = http.get({ host: '127.0.0.1', port: p.port(), headers: { host: 'payments' }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('close', () => resolve(`${res.statusCode} ${res.complete ? 'complete' : 'cut'} ${body.trim()}`));
    });
    r.on('error', () => {});
  });
  assert.equal(outcome, '200 cut data: first');
  assert.equal(await metric(p.adminPort(), 'mesh_timeouts_total', { route: 'pay', kind: 'idle' }), 1);
  await eventually(() => assert.ok(p.logs().some((l) => String(l.error).startsWith('timeout idle 150ms payments'))));
});

test('retry conditions: connect failure goes to another endpoint; gRPC status and retriable 4xx by list', async (t) => {
  const dead = await closedPort();
  let n = 0;
  const up = await httpUpstream((req, res) => {
    n++;
    if (req.url === '/grpc') res.writeHead(200, n % 2 === 1 ? { 'content-type': 'application/grpc', 'grpc-status': '14' } : { 'content-type': 'application/grpc', 'grpc-status': '0' }).end();
    else if (req.url === '/conflict') res.writeHead(n % 2 === 1 ? 409 : 200).end();
    else res.writeHead(200).end('live');
  });
  t.after(() => up.close());
  const backoff = { baseMs: 1, maxMs: 2 };
  const routes = [
    { name: 'grpc', match: { path: { exact: '/grpc' } }, destinations: [{ cluster: 'live' }], retries: { attempts: 1, on: ['grpc' as const], grpcStatuses: [14], backoff } },
    { name: 'conflict', match: { path: { exact: '/conflict' } }, destinations: [{ cluster: 'live' }], retries: { attempts: 1, on: ['retriable-4xx' as const], retriable4xx: [409], backoff } },
    { name: 'mixed', destinations: [{ cluster: 'mixed' }], retries: { attempts: 1, on: ['connect-failure' as const], backoff } },
  ];
  const p = await startTestProxy(snapshot([httpListener('out', routes)], [cluster('live', [up.port]), cluster('mixed', [dead, up.port], { lb: 'round_robin' })]));
  t.after(() => p.close());
  n = 0;
  const g = await request(p.port(), { path: '/grpc', headers: { host: 'x' } });
  assert.equal(g.headers['grpc-status'], '0');
  assert.equal(await metric(p.adminPort(), 'mesh_retries_total', { route: 'grpc', reason: 'grpc-14' }), 1);
  n = 0;
  assert.equal((await request(p.port(), { path: '/conflict', headers: { host: 'x' } })).status, 200);
  assert.equal(await metric(p.adminPort(), 'mesh_retries_total', { route: 'conflict', reason: '409' }), 1);
  for (let i = 0; i < 4; i++) assert.equal((await request(p.port(), { path: '/m', headers: { host: 'x' } })).body, 'live');
  assert.ok((await metric(p.adminPort(), 'mesh_retries_total', { route: 'mixed', reason: 'connect-failure', cluster: 'mixed' })) >= 1);
});

test('HTTP/2 upstreams: a 503 stream is cancelled and retried on the same session', async (t) => {
  let n = 0;
  const up = await http2Upstream((stream) => {
    stream.respond({ ':status': ++n === 1 ? 503 : 200 });
    stream.end(n === 1 ? 'busy' : 'ok');
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', route({ retries: { attempts: 2, backoff: { baseMs: 1, maxMs: 2 } } }))], [cluster('payments', [up.port], { protocol: 'http2' })]));
  t.after(() => p.close());
  const r = await request(p.port(), { headers: { host: 'payments' } });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'ok');
  assert.equal(r.headers['x-mesh-attempts'], '2');
  assert.equal(up.connections, 1);
  assert.equal(await metric(p.adminPort(), 'mesh_retries_total', { route: 'pay', reason: '503' }), 1);
});
