// The controller as a real process (`meshctl controller`, static discovery)
// with real proxies from startProxy(), over loopback addresses standing in for
// the Docker networks: web's sidecar routes to product's sidecar, which routes
// to product's app replicas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../../harness/eventually.ts';
import { controllerProcess } from '../../harness/controller-process.ts';
import { freePort } from '../../../src/cli/up/host-ports.ts';
import { startProxy } from '../../../src/proxy/proxy.ts';
import { startConfigClient } from '../../../src/proxy/config-client.ts';
import { identityFromController } from '../../../src/proxy/identity/controller-signer.ts';
import { api, callProduct, loopbackWorkloads, tempDir, TOKEN, writeWorkloads } from '../../harness/controller-harness.ts';

type T = Parameters<typeof tempDir>[0] & { after(fn: () => Promise<void> | void): void };

async function app(t: T, host: string, port: number, body: string): Promise<Server> {
  const s = createServer((_req, res) => res.end(body));
  await new Promise<void>((r) => s.listen(port, host, r));
  t.after(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

test('config changes reach every proxy and are ACKed; a bad override is NACKed; a killed controller does not stop traffic', async (t) => {
  const dir = tempDir(t);
  const port = await freePort('127.0.20.1');
  await app(t, '127.0.20.1', port, 'v1');
  await app(t, '127.0.20.4', port, 'v2');
  writeFileSync(join(dir, 'mesh.config.json'), JSON.stringify({ services: { product: { ports: [port] } } }));
  const file = join(dir, 'workloads.json');
  writeWorkloads(file, loopbackWorkloads({ product: port, web: port }).filter((w) => w.id !== 'web-app'));

  const ctlPort = await freePort('127.0.0.1');
  let ctl = await controllerProcess(t, dir, ctlPort);
  const proxies = await Promise.all(['web', 'product'].map(async (service) => {
    // Sidecar-to-sidecar traffic is mTLS by default: each proxy gets its certificate from the controller's CA.
    const identity = await identityFromController({ url: ctl.url, bearer: TOKEN, service, timeoutMs: 10_000 });
    t.after(() => identity.close());
    const handle = await startProxy({ admin: { host: '127.0.0.1', port: 0 }, accessLog: { write: () => true } as unknown as NodeJS.WritableStream, identity });
    t.after(() => handle.close());
    const client = startConfigClient({ url: ctl.url, token: TOKEN, service, proxyId: `${service}-mesh`, handle, backoff: { baseMs: 20, maxMs: 300 } });
    t.after(() => client.close());
    return { service, handle, client };
  }));
  const inSync = async (url: string) => {
    const r = await api(url, 'GET', '/v1/proxies');
    assert.equal(r.body.proxies.length, 2);
    for (const p of r.body.proxies) assert.ok(p.inSync, JSON.stringify(p));
  };

  await eventually(() => inSync(ctl.url));
  assert.equal(await eventually(() => callProduct(port)), 'v1');

  // A new replica (v2) and a canary override: both proxies converge, traffic follows.
  writeWorkloads(file, loopbackWorkloads({ product: port, web: port }, [{ id: 'product-app-2', service: 'product', version: 'v2', addresses: { 'product-net': '127.0.20.4' } }]).filter((w) => w.id !== 'web-app'));
  assert.equal((await api(ctl.url, 'PUT', '/v1/overrides', { service: 'product', weights: { v2: 100 } })).status, 200);
  await eventually(async () => {
    await inSync(ctl.url);
    assert.equal(await callProduct(port), 'v2');
  });

  // A bad override: the real proxy cannot compile the regex, says why, and keeps serving.
  const held = proxies[1]!.handle.current()!.hash;
  await api(ctl.url, 'PUT', '/v1/overrides', { service: 'product', weights: { v2: 100 }, routes: [{ name: 'bad', match: { headers: [{ name: 'x', regex: '([' }] }, to: [{ version: 'v1' }] }] });
  const nack = await eventually(async () => {
    const p = (await api(ctl.url, 'GET', '/v1/proxies')).body.proxies.find((p: any) => p.service === 'product');
    assert.equal(p.ack.ok, false, JSON.stringify(p));
    return p.ack;
  });
  assert.ok(nack.error.length > 0);
  assert.equal(proxies[1]!.handle.current()!.hash, held);
  assert.equal(await callProduct(port), 'v2');
  await api(ctl.url, 'PUT', '/v1/overrides', { service: 'product', weights: { v2: 100 } });
  await eventually(() => inSync(ctl.url));

  // Controller killed: the data plane keeps routing with its last good snapshot.
  ctl.child.kill('SIGKILL');
  await eventually(() => assert.ok(proxies.every((p) => !p.client.state().connected)));
  for (let i = 0; i < 5; i++) assert.equal(await callProduct(port), 'v2');

  // Controller back (same state dir): proxies resubscribe, a new change reaches them.
  ctl = await controllerProcess(t, dir, ctlPort);
  await eventually(() => inSync(ctl.url));
  assert.deepEqual((await api(ctl.url, 'GET', '/v1/overrides')).body.services.product.weights, { v2: 100 });
  await api(ctl.url, 'PUT', '/v1/overrides', { service: 'product', weights: { v1: 100 } });
  await eventually(async () => {
    await inSync(ctl.url);
    assert.equal(await callProduct(port), 'v1');
  });

  // A bad mesh config on reload (SIGHUP) is reported with its path and changes nothing.
  const before = proxies.map((p) => p.handle.current()!.hash);
  let out = '';
  ctl.child.stdout!.on('data', (c) => (out += c));
  writeFileSync(join(dir, 'mesh.config.json'), JSON.stringify({ services: { product: { ports: [port], retries: { attempts: 'three' } } } }));
  ctl.child.kill('SIGHUP');
  await eventually(() => assert.match(out, /config rejected.*services\.product\.retries\.attempts: expected an integer from 0 to 10, got \\"three\\"/));
  await eventually(() => inSync(ctl.url));
  assert.deepEqual(proxies.map((p) => p.handle.current()!.hash), before);
  // A good one reaches the proxies that call product.
  writeFileSync(join(dir, 'mesh.config.json'), JSON.stringify({ services: { product: { ports: [port], retries: { attempts: 3 } } } }));
  ctl.child.kill('SIGHUP');
  await eventually(async () => {
    const route = proxies[0]!.handle.current()!.listeners.find((l) => l.name === `out:${port}`)!.routes[0]!;
    assert.equal(route.retries?.attempts, 3);
    await inSync(ctl.url);
  });
  assert.equal(await callProduct(port), 'v1');
});
