// Route matching (host wildcards, path exact/prefix/regex, methods, headers),
// weighted splits, and each load balancer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { httpUpstream, echoHandler } from '../../harness/upstream-servers.ts';
import { startTestProxy, snapshot, httpListener, cluster } from '../../harness/proxy-builder.ts';
import { request } from '../../harness/http-client.ts';

async function upstreams(t: { after: (fn: () => Promise<void>) => void }, names: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const n of names) {
    const u = await httpUpstream(echoHandler(n));
    t.after(() => u.close());
    out[n] = u.port;
  }
  return out;
}

test('routes match on host (port stripped, wildcards), path exact/prefix/regex, method and headers; first match wins', async (t) => {
  const ports = await upstreams(t, ['exact', 'prefix', 'regex', 'method', 'header', 'wild', 'fallback']);
  const p = await startTestProxy(
    snapshot(
      [
        httpListener('out', [
          { name: 'exact', match: { hosts: ['api'], path: { exact: '/v1/exact' } }, destinations: [{ cluster: 'exact' }] },
          { name: 'header', match: { hosts: ['api'], headers: [{ name: 'X-Canary', exact: 'yes' }] }, destinations: [{ cluster: 'header' }] },
          { name: 'regex', match: { hosts: ['api'], path: { regex: '/v1/items/[0-9]+' } }, destinations: [{ cluster: 'regex' }] },
          { name: 'method', match: { hosts: ['api'], methods: ['delete'] }, destinations: [{ cluster: 'method' }] },
          { name: 'prefix', match: { hosts: ['api'], path: { prefix: '/v1/' } }, destinations: [{ cluster: 'prefix' }] },
          { name: 'wild', match: { hosts: ['*.shop.internal'] }, destinations: [{ cluster: 'wild' }] },
          { name: 'fallback', match: { hosts: ['*'] }, destinations: [{ cluster: 'fallback' }] },
        ]),
      ],
      Object.entries(ports).map(([n, port]) => cluster(n, [port])),
    ),
  );
  t.after(() => p.close());
  const who = async (host: string, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<string> =>
    JSON.parse((await request(p.port(), { method, path, headers: { host, ...headers } })).body).name;
  assert.equal(await who('api:8080', '/v1/exact'), 'exact');
  assert.equal(await who('API', '/v1/exact?q=1'), 'exact', 'host is case-insensitive, query ignored');
  assert.equal(await who('api', '/v1/exact/more'), 'prefix');
  assert.equal(await who('api', '/v1/items/42'), 'regex');
  assert.equal(await who('api', '/v1/items/42x'), 'prefix', 'regex is anchored');
  assert.equal(await who('api', '/v1/exact', 'GET', { 'x-canary': 'yes' }), 'exact', 'first match wins');
  assert.equal(await who('api', '/other', 'GET', { 'x-canary': 'yes' }), 'header');
  assert.equal(await who('api', '/other', 'DELETE'), 'method');
  assert.equal(await who('cart.shop.internal:80', '/'), 'wild');
  assert.equal(await who('shop.internal', '/'), 'fallback', 'a wildcard needs a subdomain');
});

test('an invalid regex is rejected at apply with the field path', async (t) => {
  const p = await startTestProxy(undefined);
  t.after(() => p.close());
  const r = await p.proxy.apply(
    snapshot([httpListener('out', [{ name: 'bad', match: { path: { regex: '([' } }, destinations: [{ cluster: 'a' }] }])], [cluster('a', [1])]),
  );
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.issues[0]!.startsWith('listeners[0].routes[0].match'), !r.ok ? r.issues.join() : '');
});

async function countNames(port: number, n: number, concurrency = 8, host = 'svc'): Promise<Record<string, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const counts: Record<string, number> = {};
  const one = async (): Promise<void> => {
    const r = await request(port, { headers: { host }, agent });
    const name = JSON.parse(r.body).name as string;
    counts[name] = (counts[name] ?? 0) + 1;
  };
  for (let i = 0; i < n; i += concurrency) await Promise.all(Array.from({ length: Math.min(concurrency, n - i) }, one));
  agent.destroy();
  return counts;
}

test('weighted destinations split traffic in proportion (80/20 within generous bounds)', async (t) => {
  const ports = await upstreams(t, ['stable', 'canary']);
  const p = await startTestProxy(
    snapshot(
      [httpListener('out', [{ name: 'split', destinations: [{ cluster: 'stable', weight: 80 }, { cluster: 'canary', weight: 20 }] }])],
      [cluster('stable', [ports.stable!]), cluster('canary', [ports.canary!])],
    ),
  );
  t.after(() => p.close());
  const counts = await countNames(p.port(), 1000);
  // Binomial(1000, 0.2): sd ≈ 12.6; 120..280 is more than 6 sd either way.
  assert.ok(counts.canary! > 120 && counts.canary! < 280, JSON.stringify(counts));
  assert.equal(counts.stable! + counts.canary!, 1000);
});

test('round_robin alternates evenly across endpoints', async (t) => {
  const ports = await upstreams(t, ['a', 'b', 'c']);
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'rr', destinations: [{ cluster: 'svc' }] }])], [cluster('svc', Object.values(ports), { lb: 'round_robin' })]));
  t.after(() => p.close());
  const names: string[] = [];
  for (let i = 0; i < 9; i++) names.push(JSON.parse((await request(p.port())).body).name);
  assert.deepEqual(names, ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
});

test('least_request avoids the endpoint that holds requests open', async (t) => {
  const held: http.ServerResponse[] = [];
  const slow = await httpUpstream((_req, res) => held.push(res));
  t.after(() => slow.close());
  const fast = await httpUpstream(echoHandler('fast'));
  t.after(() => fast.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'lr', destinations: [{ cluster: 'svc' }] }])], [cluster('svc', [slow.port, fast.port], { lb: 'least_request' })]));
  t.after(() => p.close());
  t.after(() => held.forEach((r) => r.destroy()));
  // Park one request on the slow endpoint (keep sending until one sticks there).
  const pending: Promise<unknown>[] = [];
  while (held.length === 0) {
    const r = request(p.port()).catch(() => undefined);
    const done = await Promise.race([r.then(() => true), new Promise((res) => setTimeout(res, 50, false))]);
    if (!done) pending.push(r);
  }
  // With two endpoints P2C always compares both: each new request (one at a time) goes to the one with fewer in flight.
  const counts = await countNames(p.port(), 50, 1);
  assert.equal(counts.fast, 50, JSON.stringify(counts));
});

test('peak_ewma (the default) prefers the fast endpoint', async (t) => {
  const slow = await httpUpstream((req, res) => setTimeout(() => echoHandler('slow')(req, res), 40));
  t.after(() => slow.close());
  const fast = await httpUpstream(echoHandler('fast'));
  t.after(() => fast.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'ewma', destinations: [{ cluster: 'svc' }] }])], [cluster('svc', [slow.port, fast.port])]));
  t.after(() => p.close());
  const counts = await countNames(p.port(), 200);
  assert.ok((counts.fast ?? 0) > 150, JSON.stringify(counts));
});
