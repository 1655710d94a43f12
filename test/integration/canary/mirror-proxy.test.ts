// Request mirroring in the proxy, over real sockets: a route's `mirror` copies
// its share of requests to another cluster fire-and-forget. The client gets the
// primary's answer without waiting for the copy, a failing or silent mirror
// target changes nothing for it, streamed bodies are not copied (buffered ones
// are), and /metrics counts copies and skips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { eventually } from '../../harness/eventually.ts';
import { request } from '../../harness/http-client.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { closedPort, http2Upstream, httpUpstream } from '../../harness/upstream-servers.ts';

const metric = async (adminPort: number, re: RegExp) => {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  return text.split('\n').filter((l) => re.test(l)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
};

test('a mirrored copy never delays the answer; the copy carries the request and x-mesh-mirror', { timeout: 30_000 }, async (t) => {
  const primary = await httpUpstream((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'x-from': 'primary' }).end('primary'));
  });
  t.after(() => primary.close());
  // The mirror target holds every answer until released: the client must not wait for it.
  const held: http.ServerResponse[] = [];
  const copies: { method: string; url: string; mirror: string | undefined; body: string }[] = [];
  const shadow = await httpUpstream((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      copies.push({ method: req.method!, url: req.url!, mirror: req.headers['x-mesh-mirror'] as string | undefined, body });
      held.push(res);
    });
  });
  t.after(() => shadow.close());
  const p = await startTestProxy(
    snapshot(
      [
        httpListener('out', [
          // A retry policy buffers bodies (up to maxBodyBytes), which makes them copyable.
          { name: 'buffered', match: { path: { prefix: '/buffered' } }, destinations: [{ cluster: 'primary' }], mirror: { cluster: 'shadow', percent: 100 }, retries: { attempts: 1, on: ['5xx'], retryNonIdempotent: true } },
          { name: 'all', destinations: [{ cluster: 'primary' }], mirror: { cluster: 'shadow', percent: 100 } },
        ]),
      ],
      [cluster('primary', [primary.port]), cluster('shadow', [shadow.port])],
    ),
  );
  t.after(() => p.close());

  for (let i = 0; i < 10; i++) {
    const r = await request(p.port(), { path: `/get/${i}` });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'primary');
  }
  await eventually(() => assert.equal(copies.length, 10));
  assert.equal(held.length, 10, 'the mirror has answered none of them');
  assert.deepEqual(copies.map((c) => c.url), Array.from({ length: 10 }, (_, i) => `/get/${i}`));
  assert.ok(copies.every((c) => c.method === 'GET' && c.mirror === '1'));

  // A streamed body is not copied; a body the retry filter buffered is.
  assert.equal((await request(p.port(), { method: 'POST', path: '/stream', body: 'abc' })).status, 200);
  assert.equal((await request(p.port(), { method: 'POST', path: '/buffered', body: 'hello' })).status, 200);
  await eventually(() => assert.equal(copies.length, 11));
  assert.deepEqual(copies[10], { method: 'POST', url: '/buffered', mirror: '1', body: 'hello' });
  assert.equal(await metric(p.adminPort(), /^mesh_mirror_skipped_total\{.*route="all".*reason="body"/), 1);

  for (const res of held) res.writeHead(503).end();
  await eventually(async () => assert.equal(await metric(p.adminPort(), /^mesh_mirror_responses_total\{.*cluster="shadow".*response_class="5xx"/), 11));
  assert.equal(await metric(p.adminPort(), /^mesh_mirror_duration_seconds_count\{.*cluster="shadow"/), 11);
  // Real traffic figures never include the copies.
  assert.equal(await metric(p.adminPort(), /^mesh_requests_total\{/), 12);
});

test('a mirror target that refuses connections, or an h2c one, changes nothing for clients; percent picks a share', { timeout: 30_000 }, async (t) => {
  const primary = await httpUpstream((_req, res) => res.end('ok'));
  t.after(() => primary.close());
  let h2Copies = 0;
  const h2 = await http2Upstream((stream) => {
    h2Copies++;
    stream.respond({ ':status': 200 });
    stream.end('copy');
  });
  t.after(() => h2.close());
  const dead = await closedPort();
  const p = await startTestProxy(
    snapshot(
      [
        httpListener('out', [
          { name: 'dead', match: { path: { prefix: '/dead' } }, destinations: [{ cluster: 'primary' }], mirror: { cluster: 'dead', percent: 100 } },
          { name: 'h2', match: { path: { prefix: '/h2' } }, destinations: [{ cluster: 'primary' }], mirror: { cluster: 'h2', percent: 100 } },
          { name: 'half', destinations: [{ cluster: 'primary' }], mirror: { cluster: 'h2', percent: 50 } },
        ]),
      ],
      [cluster('primary', [primary.port]), cluster('dead', [dead]), cluster('h2', [h2.port], { protocol: 'http2' })],
    ),
  );
  t.after(() => p.close());
  for (let i = 0; i < 20; i++) assert.equal((await request(p.port(), { path: '/dead' })).status, 200);
  await eventually(async () => assert.equal(await metric(p.adminPort(), /^mesh_mirror_responses_total\{.*cluster="dead".*response_class="error"/), 20));

  for (let i = 0; i < 10; i++) assert.equal((await request(p.port(), { path: '/h2' })).status, 200);
  await eventually(async () => assert.equal(await metric(p.adminPort(), /^mesh_mirror_responses_total\{.*route="h2".*response_class="2xx"/), 10));
  assert.equal(h2Copies, 10);

  for (let i = 0; i < 400; i++) assert.equal((await request(p.port(), { path: '/x' })).status, 200);
  const half = await eventually(async () => {
    const n = await metric(p.adminPort(), /^mesh_mirror_responses_total\{.*route="half"/);
    assert.equal(n, h2Copies - 10);
    return n;
  });
  assert.ok(half > 140 && half < 260, `50 % of 400 requests copied: ${half}`);
});
