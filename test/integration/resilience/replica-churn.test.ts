// Replicas that stop, start or are recreated behind a sidecar: a request that
// never reached an app goes again (any method), a proxy's own refusal counts
// as a connect failure for the caller, and a cluster with no endpoint at all
// holds requests (bounded) until a snapshot brings one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import { request, type ClientResponse } from '../../harness/http-client.ts';
import { echoHandler, httpUpstream } from '../../harness/upstream-servers.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { eventually } from '../../harness/eventually.ts';
import { requestsWaitingForEndpoints } from '../../../src/proxy/clusters/endpoint-waiters.ts';
import { metric } from './metric-value.ts';
import { readFileSync } from 'node:fs';
import { buildSnapshots } from '../../../src/controller/snapshot/build-snapshots.ts';
import { MeshConfig } from '../../../src/shared/mesh-config.ts';
import { StaticDiscoveryFile, Overrides } from '../../../src/shared/api.ts';

/** A port nothing listens on (a replica that just stopped): bound once, then closed. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const inbound = (clusterName: string) => httpListener('in', [{ name: 'local', destinations: [{ cluster: clusterName }] }], { direction: 'inbound' });

test('inbound: one of two replicas refusing connections costs no request, GET or POST, no retry policy', async (t) => {
  const app = await httpUpstream(echoHandler('live'));
  t.after(() => app.close());
  const dead = await closedPort();
  const p = await startTestProxy(snapshot([inbound('app')], [cluster('app', [dead, app.port], { lb: 'round_robin' })]));
  t.after(() => p.close());
  for (let i = 0; i < 10; i++) {
    const get = await request(p.port(), { headers: { host: 'payments' } });
    assert.equal(get.status, 200, `GET ${i}: ${get.headers['x-mesh-error']}`);
    const body = `{"order":${i},"pad":"${'x'.repeat(100)}"}`;
    const post = await request(p.port(), { method: 'POST', headers: { host: 'payments', 'content-type': 'application/json' }, body });
    assert.equal(post.status, 200, `POST ${i}: ${post.headers['x-mesh-error']}`);
    const seen = JSON.parse(post.body) as { method: string; bodyBytes: number };
    assert.equal(seen.method, 'POST');
    assert.equal(seen.bodyBytes, Buffer.byteLength(body)); // the body went whole to the replica that answered
  }
  assert.ok((await metric(p.adminPort(), 'mesh_retries_total', { route: 'local', reason: 'connect-failure' })) > 0);
});

test('inbound over HTTP/2 (as from a caller sidecar): a POST body streamed in is sent whole to the replica that answers', async (t) => {
  const app = await httpUpstream(echoHandler('live'));
  t.after(() => app.close());
  const p = await startTestProxy(snapshot([inbound('app')], [cluster('app', [await closedPort(), app.port], { lb: 'round_robin' })]));
  t.after(() => p.close());
  const session = http2.connect(`http://127.0.0.1:${p.port()}`);
  t.after(() => session.close());
  const post = (body: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const s = session.request({ ':method': 'POST', ':path': '/charge', ':authority': 'payments' });
      let out = '';
      let status = 0;
      s.on('response', (h) => (status = Number(h[':status'])));
      s.on('data', (c: Buffer) => (out += c.toString()));
      s.on('end', () => resolve({ status, body: out }));
      s.on('error', reject);
      s.end(body); // no content-length: a stream, never buffered by the proxy
    });
  for (let i = 0; i < 6; i++) {
    const body = `charge-${i}-${'y'.repeat(50)}`;
    const r = await post(body);
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { bodyBytes: number }).bodyBytes, body.length);
  }
});

test("outbound: a peer sidecar's connect-failure 503 is retried for a POST; an app's own 503 for a POST is not", async (t) => {
  const app = await httpUpstream(echoHandler('live'));
  t.after(() => app.close());
  // Two callee sidecars: one whose only replica is gone (it answers 503 upstream-connect-failure), one fine.
  const broken = await startTestProxy(snapshot([inbound('app')], [cluster('app', [await closedPort()])]));
  t.after(() => broken.close());
  const fine = await startTestProxy(snapshot([inbound('app')], [cluster('app', [app.port])]));
  t.after(() => fine.close());
  let appCalls = 0;
  const refusing = await httpUpstream((req, res) => {
    appCalls++;
    req.resume();
    req.on('end', () => res.writeHead(503, { 'content-length': '4' }).end('busy'));
  });
  t.after(() => refusing.close());
  const retries = { attempts: 2, backoff: { baseMs: 1, maxMs: 2 } };
  const caller = await startTestProxy(
    snapshot(
      [
        httpListener('out', [
          { name: 'app503', match: { hosts: ['busy'] }, destinations: [{ cluster: 'busy' }], retries },
          { name: 'pay', destinations: [{ cluster: 'payments' }], retries },
        ]),
      ],
      [cluster('payments', [broken.port(), fine.port()], { lb: 'round_robin' }), cluster('busy', [refusing.port])],
    ),
  );
  t.after(() => caller.close());
  for (let i = 0; i < 6; i++) {
    const post = await request(caller.port(), { method: 'POST', headers: { host: 'payments' }, body: `n=${i}` });
    assert.equal(post.status, 200, `POST ${i}: ${post.headers['x-mesh-error']}`);
  }
  assert.ok((await metric(caller.adminPort(), 'mesh_retries_total', { route: 'pay', reason: 'connect-failure' })) > 0);

  const r = await request(caller.port(), { method: 'POST', headers: { host: 'busy' }, body: 'n=1' });
  assert.equal(r.status, 503);
  assert.equal(r.body, 'busy');
  assert.equal(appCalls, 1); // the app saw it: never sent twice
  assert.equal(r.headers['x-mesh-attempts'], '1');
});

test('a cluster with no endpoint holds requests until a snapshot brings one', async (t) => {
  const app = await httpUpstream(echoHandler('new'));
  t.after(() => app.close());
  const listeners = [httpListener('out', [{ name: 'pay', destinations: [{ cluster: 'payments' }] }])];
  const p = await startTestProxy(snapshot(listeners, [cluster('payments', [])]));
  t.after(() => p.close());
  const pending = [
    request(p.port(), { headers: { host: 'payments' } }),
    request(p.port(), { method: 'POST', headers: { host: 'payments' }, body: 'a=1' }),
    request(p.port(), { path: '/x', headers: { host: 'payments' } }),
  ];
  await eventually(() => assert.equal(requestsWaitingForEndpoints(), 3));
  // The callee's sidecar is back about a second later (docker compose up --force-recreate).
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(requestsWaitingForEndpoints(), 3);
  const applied = await p.proxy.apply(snapshot(listeners, [cluster('payments', [app.port])], { version: 2 }));
  assert.equal(applied.ok, true);
  for (const r of await Promise.all(pending)) assert.equal(r.status, 200, String(r.headers['x-mesh-error']));
  assert.equal(requestsWaitingForEndpoints(), 0);
});

test('the wait is bounded: queue length, then time, then 503 no-healthy-endpoint as before', async (t) => {
  const app = await httpUpstream(echoHandler('new'));
  t.after(() => app.close());
  const listeners = [httpListener('out', [{ name: 'pay', destinations: [{ cluster: 'payments' }] }])];
  const p = await startTestProxy(snapshot(listeners, [cluster('payments', [], { endpointWait: { maxMs: 60_000, maxQueued: 2 } })]));
  t.after(() => p.close());
  const send = () => request(p.port(), { headers: { host: 'payments' } });
  const queued = [send(), send()];
  await eventually(() => assert.equal(requestsWaitingForEndpoints(), 2));
  // Over the bound: refused at once, while the first two still wait.
  const over: ClientResponse[] = await Promise.all([send(), send()]);
  for (const r of over) {
    assert.equal(r.status, 503);
    assert.match(String(r.headers['x-mesh-error']), /^no-healthy-endpoint payments/);
  }
  assert.equal(requestsWaitingForEndpoints(), 2);
  await p.proxy.apply(snapshot(listeners, [cluster('payments', [app.port], { endpointWait: { maxMs: 60_000, maxQueued: 2 } })], { version: 2 }));
  for (const r of await Promise.all(queued)) assert.equal(r.status, 200);

  // A short wait runs out: the same 503 as a fail-fast proxy gives, after the wait.
  await p.proxy.apply(snapshot(listeners, [cluster('payments', [], { endpointWait: { maxMs: 50, maxQueued: 2 } })], { version: 3 }));
  const late = await send();
  assert.equal(late.status, 503);
  assert.equal(late.headers['x-mesh-error'], 'no-healthy-endpoint payments');
  assert.equal(requestsWaitingForEndpoints(), 0);
});

test('mesh.config endpointWait reaches both the callers\' cluster and the service\'s own inbound cluster', () => {
  const fixture = (f: string) => JSON.parse(readFileSync(new URL(`../../fixtures/controller/${f}`, import.meta.url), 'utf8'));
  const raw = fixture('shop-config.json');
  raw.services.product = { ...raw.services.product, endpointWait: { maxMs: 1500, maxQueued: 7 } };
  const config = MeshConfig.parse(raw);
  const registry = StaticDiscoveryFile.parse(fixture('shop-registry.json')).workloads;
  const { snapshots } = buildSnapshots({ project: 'shop', config, registry, overrides: Overrides.parse({}) });
  const web = snapshots.get('web-mesh-1')!;
  assert.deepEqual(web.clusters.find((c) => c.name === 'out:product:8080')!.endpointWait, { maxMs: 1500, maxQueued: 7 });
  assert.equal(web.clusters.find((c) => c.name === 'out:payment:8080')!.endpointWait, undefined); // the proxy's default applies
  const product = snapshots.get('product-mesh-1')!;
  assert.deepEqual(product.clusters.find((c) => c.name === 'in:product:8080')!.endpointWait, { maxMs: 1500, maxQueued: 7 });
});
