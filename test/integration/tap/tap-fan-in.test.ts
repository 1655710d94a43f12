// The controller's tap fans in every sidecar of a service: product runs two
// sidecar replicas (web balances over both), one stream carries both, each
// line naming its proxy; a sidecar that goes away is dropped from the stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { eventually } from '../../harness/eventually.ts';
import { api, inProcessController, loopbackWorkloads, tempDir, TOKEN, writeWorkloads } from '../../harness/controller-harness.ts';
import { startProxy } from '../../../src/proxy/proxy.ts';
import { startConfigClient } from '../../../src/proxy/config-client.ts';
import { identityFromController } from '../../../src/proxy/identity/controller-signer.ts';
import { TapMessage } from '../../../src/shared/api.ts';

test('one tap stream carries the requests of both sidecars of a service, each line naming its proxy', async (t) => {
  const dir = tempDir(t);
  const app = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => app.listen(0, '127.0.20.1', r));
  t.after(() => new Promise<void>((r) => app.close(() => r())));
  const port = (app.address() as AddressInfo).port;
  const second = { id: 'product-mesh-2', service: 'product', role: 'proxy' as const, addresses: { mesh: '127.0.20.4', 'product-net': '127.0.20.5' } };
  writeWorkloads(join(dir, 'workloads.json'), loopbackWorkloads({ product: port, web: port }, [second]).filter((w) => w.id !== 'web-app'));
  const ctl = await inProcessController(t, { dir, config: { services: { product: { ports: [port], lb: 'round_robin' } } } });
  const stops: Record<string, () => Promise<void>> = {};
  for (const [service, proxyId] of [['web', 'web-mesh'], ['product', 'product-mesh'], ['product', 'product-mesh-2']] as const) {
    const identity = await identityFromController({ url: ctl.url, bearer: TOKEN, service, timeoutMs: 10_000 });
    t.after(() => identity.close());
    const handle = await startProxy({ admin: { host: '127.0.0.1', port: 0 }, accessLog: { write: () => true } as unknown as NodeJS.WritableStream, identity });
    const c = startConfigClient({ url: ctl.url, token: TOKEN, service, proxyId, handle });
    stops[proxyId] = async () => {
      c.close();
      await handle.close();
    };
    t.after(() => stops[proxyId]!());
  }
  await eventually(async () => {
    const r = await api(ctl.url, 'GET', '/v1/proxies');
    assert.equal(r.body.proxies.filter((p: { inSync: boolean }) => p.inSync).length, 3, JSON.stringify(r.body));
  });
  const get = () =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.10.3', port, path: '/both', headers: { host: 'product' } }, (res) => res.resume().on('end', resolve));
      req.on('error', reject);
      req.end();
    });

  const stop = new AbortController();
  t.after(() => stop.abort());
  const res = await fetch(`${ctl.url}/v1/tap/product?path=/both`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: stop.signal });
  assert.equal(res.status, 200);
  const messages: TapMessage[] = [];
  void (async () => {
    let buf = '';
    for await (const chunk of res.body!) {
      buf += Buffer.from(chunk).toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        messages.push(TapMessage.parse(JSON.parse(buf.slice(0, nl))));
        buf = buf.slice(nl + 1);
      }
    }
  })().catch(() => {});
  await eventually(() => assert.ok(messages.some((m) => m.type === 'tapping' && m.proxies.join() === 'product-mesh,product-mesh-2'), JSON.stringify(messages)));
  await eventually(async () => {
    await get();
    const by = new Set(messages.flatMap((m) => (m.type === 'request' ? [m.proxy] : [])));
    assert.deepEqual([...by].sort(), ['product-mesh', 'product-mesh-2']);
  });
  assert.ok(messages.every((m) => m.type !== 'request' || (m.path === '/both' && m.service === 'product' && m.direction === 'inbound')));

  // One sidecar goes: the stream says so and carries on with the other.
  await stops['product-mesh-2']!();
  await eventually(() => assert.ok(messages.some((m) => m.type === 'tapping' && m.proxies.join() === 'product-mesh'), JSON.stringify(messages.filter((m) => m.type !== 'request'))));
  const before = messages.length;
  await eventually(async () => {
    await get();
    assert.ok(messages.slice(before).some((m) => m.type === 'request' && m.proxy === 'product-mesh'));
  });
});
