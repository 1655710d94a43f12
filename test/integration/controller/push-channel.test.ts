// The push channel end to end over real sockets: controller (in process,
// static discovery) ↔ config-client ↔ a proxy stand-in (see fakeProxy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { eventually } from '../../harness/eventually.ts';
import { startConfigClient } from '../../../src/proxy/config-client.ts';
import { api, fakeProxy, inProcessController, loopbackWorkloads, tempDir, TOKEN, writeWorkloads } from '../../harness/controller-harness.ts';

const ports = { product: 18080, web: 18081 };

async function setup(t: Parameters<typeof tempDir>[0] & { after(fn: () => Promise<void> | void): void }) {
  const dir = tempDir(t);
  const file = join(dir, 'workloads.json');
  writeWorkloads(file, loopbackWorkloads(ports));
  const ctl = await inProcessController(t, { dir, config: { services: { product: { ports: [ports.product] } } } });
  const proxies = { web: fakeProxy(), product: fakeProxy() };
  const clients = Object.entries(proxies).map(([service, handle]) => {
    const c = startConfigClient({ url: ctl.url, token: TOKEN, service, proxyId: `${service}-mesh`, handle, backoff: { baseMs: 20, maxMs: 200 } });
    t.after(() => c.close());
    return c;
  });
  return { dir, file, ctl, proxies, clients };
}

async function allInSync(url: string) {
  const r = await api(url, 'GET', '/v1/proxies');
  assert.equal(r.status, 200);
  assert.equal(r.body.proxies.length, 2);
  for (const p of r.body.proxies) assert.ok(p.inSync, JSON.stringify(p));
  return r.body.proxies;
}

test('each proxy receives its snapshot and ACKs it', async (t) => {
  const { ctl, proxies } = await setup(t);
  const status = await eventually(() => allInSync(ctl.url));
  assert.deepEqual(status.map((p: any) => p.service).sort(), ['product', 'web']);
  assert.equal(proxies.web.current()!.node.service, 'web');
  // web calls product: its outbound listener routes to product's sidecar
  const out = proxies.web.current()!.listeners.find((l) => l.name === `out:${ports.product}`)!;
  assert.equal(out.address, '127.0.10.3');
  assert.deepEqual(proxies.web.current()!.clusters.find((c) => c.name === `out:product:${ports.product}`)!.endpoints.map((e) => e.address), ['127.0.20.2']);
});

test('a change reaches only the proxies it concerns, and is ACKed; nothing is pushed when nothing changed', async (t) => {
  const { ctl, file, proxies } = await setup(t);
  await eventually(() => allInSync(ctl.url));
  const webApplied = proxies.web.applied.length;
  const webCalls = proxies.web.stats.calls;
  const put = await api(ctl.url, 'PUT', '/v1/overrides', { service: 'product', fault: { abort: { percent: 100, httpStatus: 503 } } });
  assert.equal(put.status, 200);
  // The fault is applied on the caller's route to product: web changes, product does not.
  await eventually(async () => {
    const route = proxies.web.current()!.listeners.find((l) => l.name === `out:${ports.product}`)!.routes[0]!;
    assert.equal(route.fault?.abort?.httpStatus, 503);
    await allInSync(ctl.url);
  });
  assert.equal(proxies.web.applied.length, webApplied + 1);
  assert.equal(proxies.web.stats.calls, webCalls + 1);
  const productApplied = proxies.product.applied.length;
  const productCalls = proxies.product.stats.calls;

  // A new app replica of product: product's proxy gets it, web's does not change.
  writeWorkloads(file, loopbackWorkloads(ports, [{ id: 'product-app-2', service: 'product', version: 'v2', addresses: { 'product-net': '127.0.20.4' } }]));
  await eventually(async () => {
    const c = proxies.product.current()!.clusters.find((c) => c.name === `in:product:${ports.product}`)!;
    assert.deepEqual(c.endpoints.map((e) => e.address), ['127.0.20.1', '127.0.20.4']);
    await allInSync(ctl.url);
  });
  assert.equal(proxies.product.applied.length, productApplied + 1);
  assert.equal(proxies.web.applied.length, webApplied + 1);

  // Rewriting the same content pushes nothing.
  ctl.core.rebuild();
  writeWorkloads(file, loopbackWorkloads(ports, [{ id: 'product-app-2', service: 'product', version: 'v2', addresses: { 'product-net': '127.0.20.4' } }]));
  await new Promise((r) => setTimeout(r, 150)); // several poll periods of the file watcher
  assert.equal(proxies.product.stats.calls, productCalls + 1);
  assert.equal(proxies.web.stats.calls, webCalls + 1);
});

test('a bad override is NACKed with the reason and the old snapshot keeps serving', async (t) => {
  const { ctl, proxies } = await setup(t);
  await eventually(() => allInSync(ctl.url));
  const before = proxies.product.current()!.hash;
  const put = await api(ctl.url, 'PUT', '/v1/overrides', {
    service: 'product',
    routes: [{ name: 'bad', match: { headers: [{ name: 'x-user', regex: '([' }] }, to: [{ version: 'v1' }] }],
  });
  assert.equal(put.status, 200);
  const product = await eventually(async () => {
    const r = await api(ctl.url, 'GET', '/v1/proxies');
    const p = r.body.proxies.find((p: any) => p.service === 'product');
    assert.equal(p.ack?.ok, false, JSON.stringify(p));
    return p;
  });
  assert.match(product.ack.error, /route in:product:\d+:bad/);
  assert.equal(product.inSync, false);
  assert.equal(proxies.product.current()!.hash, before);
  // Clearing the override converges again.
  assert.equal((await api(ctl.url, 'DELETE', '/v1/overrides?service=product')).status, 200);
  await eventually(() => allInSync(ctl.url));
  assert.equal(proxies.product.current()!.hash, before);
});

test('controller gone: proxies keep their snapshot; controller back: they resync, overrides survived', async (t) => {
  const { ctl, dir, proxies, clients } = await setup(t);
  await eventually(() => allInSync(ctl.url));
  await api(ctl.url, 'PUT', '/v1/overrides', { service: 'product', weights: { v1: 100 } });
  await eventually(() => allInSync(ctl.url));
  const held = proxies.product.current()!.hash;
  const port = ctl.address.port;
  await ctl.close();
  await eventually(() => assert.ok(clients.every((c) => !c.state().connected)));
  assert.equal(proxies.product.current()!.hash, held);

  const again = await inProcessController(t, { dir, port, config: { services: { product: { ports: [ports.product] } } } });
  const overrides = await api(again.url, 'GET', '/v1/overrides');
  assert.deepEqual(overrides.body, { services: { product: { weights: { v1: 100 } } } });
  const calls = proxies.product.stats.calls + proxies.web.stats.calls;
  await eventually(() => allInSync(again.url));
  // Same content after the restart: the proxies said so on subscribe, nothing was re-sent.
  assert.equal(proxies.product.stats.calls + proxies.web.stats.calls, calls);
  assert.ok(clients.every((c) => c.state().connected));
});

test('the API rejects a missing token and malformed bodies with the reason', async (t) => {
  const { ctl } = await setup(t);
  assert.equal((await api(ctl.url, 'GET', '/v1/services', undefined, 'wrong')).status, 401);
  const sub = await fetch(`${ctl.url}/v1/push/subscribe?service=web&proxyId=x`);
  assert.equal(sub.status, 401);
  await sub.text();
  const bad = await api(ctl.url, 'PUT', '/v1/overrides', { service: 'product', weights: { v1: 'lots' } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error, /weights\.v1/);
  const unknown = await api(ctl.url, 'PUT', '/v1/overrides', { service: 'nosuch', weights: { v1: 1 } });
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.error, /no service "nosuch".*known: product, web/);
  const notJson = await api(ctl.url, 'PUT', '/v1/overrides', '{nope');
  assert.equal(notJson.status, 400);
  assert.match(notJson.body.error, /not JSON/);
  const health = await api(ctl.url, 'GET', '/v1/health', undefined, '');
  assert.equal(health.status, 200);
  assert.equal(health.body.discovery.kind, 'static');
  assert.equal(health.body.discovery.stale, false);
  const services = await api(ctl.url, 'GET', '/v1/services');
  assert.deepEqual(services.body.services.map((s: any) => s.name), ['product', 'web']);
});
