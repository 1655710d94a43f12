// Local rate limiting (holds to within 10% over a few seconds, per-key
// buckets, 429 with retry-after) and fault injection (percentages hold
// statistically, header match, gRPC status, TCP reset), over real sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from '../../harness/http-client.ts';
import { eventually } from '../../harness/eventually.ts';
import { httpUpstream, tcpUpstream } from '../../harness/upstream-servers.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { metric } from './metric-value.ts';

test('a route rate limit holds to within 10% over a few seconds; 429 says rate-limited with retry-after', async (t) => {
  const up = await httpUpstream((_req, res) => res.writeHead(200).end('ok'));
  t.after(() => up.close());
  const rps = 40;
  const burst = 5;
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'pay', destinations: [{ cluster: 'payments' }], rateLimit: { requestsPerSecond: rps, burst } }])], [cluster('payments', [up.port])]));
  t.after(() => p.close());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  t.after(() => agent.destroy());
  let ok = 0;
  let limited = 0;
  let sample: Awaited<ReturnType<typeof request>> | undefined;
  const start = Date.now();
  const until = start + 3000;
  // Four clients offering ~3× the limit.
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() < until) {
        const r = await request(p.port(), { headers: { host: 'payments' }, agent });
        if (r.status === 200) ok++;
        else if (r.status === 429) {
          limited++;
          sample ??= r;
        } else assert.fail(`status ${r.status}`);
        await sleep(30);
      }
    }),
  );
  const elapsed = (Date.now() - start) / 1000;
  const expected = burst + rps * elapsed;
  assert.ok(Math.abs(ok - expected) <= expected * 0.1, `${ok} allowed in ${elapsed}s, expected ${expected}`);
  assert.ok(limited > ok / 2, `only ${limited} limited`);
  assert.equal(sample!.headers['x-mesh-error'], `rate-limited route pay ${rps}/s`);
  assert.ok(Number(sample!.headers['retry-after']) >= 1);
  assert.equal(await metric(p.adminPort(), 'mesh_rate_limited_total', { route: 'pay', scope: 'route' }), limited);
  assert.equal(await metric(p.adminPort(), 'mesh_requests_total', { status_code: '429' }), limited);
});

test('a listener rate limit keyed by a header gives each key its own bucket', async (t) => {
  const up = await httpUpstream((_req, res) => res.writeHead(200).end('ok'));
  t.after(() => up.close());
  const limit = { requestsPerSecond: 0.01, burst: 2, key: { header: 'x-tenant' } };
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'pay', destinations: [{ cluster: 'payments' }] }], { rateLimit: limit })], [cluster('payments', [up.port])]));
  t.after(() => p.close());
  const statuses = async (tenant: string) => {
    const out: number[] = [];
    for (let i = 0; i < 3; i++) out.push((await request(p.port(), { headers: { host: 'payments', 'x-tenant': tenant } })).status);
    return out;
  };
  assert.deepEqual(await statuses('a'), [200, 200, 429]);
  assert.deepEqual(await statuses('b'), [200, 200, 429]);
  assert.equal(await metric(p.adminPort(), 'mesh_rate_limited_total', { scope: 'listener' }), 2);
});

test('fault percentages hold statistically (abort 30%, delay 50%)', async (t) => {
  let hits = 0;
  const up = await httpUpstream((_req, res) => {
    hits++;
    res.writeHead(200).end('ok');
  });
  t.after(() => up.close());
  const fault = { abort: { percent: 30, httpStatus: 418 }, delay: { percent: 50, ms: 1 } };
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'pay', destinations: [{ cluster: 'payments' }], fault }])], [cluster('payments', [up.port])]));
  t.after(() => p.close());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.after(() => agent.destroy());
  const N = 600;
  const statuses = await Promise.all(Array.from({ length: N }, () => request(p.port(), { headers: { host: 'payments' }, agent })));
  const aborted = statuses.filter((r) => r.status === 418);
  // Binomial(600, 0.3): sd ≈ 11.2; 5 sd either side.
  assert.ok(Math.abs(aborted.length - 180) <= 56, `aborted ${aborted.length}`);
  assert.equal(aborted[0]!.headers['x-mesh-error'], 'fault-injected abort pay');
  assert.equal(hits, N - aborted.length);
  const delayed = await metric(p.adminPort(), 'mesh_faults_injected_total', { route: 'pay', kind: 'delay' });
  assert.ok(Math.abs(delayed - 300) <= 62, `delayed ${delayed}`); // Binomial(600, 0.5): sd ≈ 12.2
  assert.equal(await metric(p.adminPort(), 'mesh_faults_injected_total', { route: 'pay', kind: 'abort' }), aborted.length);
  assert.equal(await metric(p.adminPort(), 'mesh_proxy_errors_total', { reason: 'fault-injected' }), aborted.length);
});

test('a fault with a header match hits only those requests; gRPC aborts answer a grpc-status', async (t) => {
  const up = await httpUpstream((_req, res) => res.writeHead(200).end('ok'));
  t.after(() => up.close());
  const fault = { abort: { percent: 100, grpcStatus: 14 }, header: { name: 'x-chaos', value: 'on' } };
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'pay', destinations: [{ cluster: 'payments' }], fault }])], [cluster('payments', [up.port])]));
  t.after(() => p.close());
  assert.equal((await request(p.port(), { headers: { host: 'payments' } })).status, 200);
  assert.equal((await request(p.port(), { headers: { host: 'payments', 'x-chaos': 'off' } })).status, 200);
  const r = await request(p.port(), { headers: { host: 'payments', 'x-chaos': 'on' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['grpc-status'], '14');
  assert.equal(r.headers['content-type'], 'application/grpc');
  assert.equal(await metric(p.adminPort(), 'mesh_faults_injected_total', { kind: 'abort' }), 1);
});

test('TCP listeners: a reset fault closes the client connection with RST', async (t) => {
  const up = await tcpUpstream((s) => s.pipe(s));
  t.after(() => up.close());
  const listener = { name: 'tcp-in', address: '127.0.0.1', port: 0, direction: 'outbound' as const, protocol: 'tcp' as const, tcp: { destinations: [{ cluster: 'db' }] }, fault: { abort: { percent: 100, tcpReset: true } } };
  const p = await startTestProxy(snapshot([listener], [cluster('db', [up.port], { protocol: 'tcp' })]));
  t.after(() => p.close());
  const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const s = net.connect(p.port(), '127.0.0.1', () => s.write('hello'));
    s.on('error', resolve);
    s.on('close', () => resolve(undefined));
  });
  assert.equal(err?.code, 'ECONNRESET');
  assert.equal(up.connections, 0);
  assert.equal(await metric(p.adminPort(), 'mesh_faults_injected_total', { listener: 'tcp-in', kind: 'reset' }), 1);
  await eventually(() => assert.ok(p.logs().some((l) => l.kind === 'tcp' && l.error === 'fault-injected reset')));
});
