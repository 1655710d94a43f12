// /v1/metrics: the controller scrapes each connected proxy's admin /metrics
// and serves per-service and per-edge figures. Real proxies, real traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { eventually } from '../../harness/eventually.ts';
import { startProxy } from '../../../src/proxy/proxy.ts';
import { startConfigClient } from '../../../src/proxy/config-client.ts';
import { identityFromController } from '../../../src/proxy/identity/controller-signer.ts';
import { api, inProcessController, loopbackWorkloads, tempDir, TOKEN, writeWorkloads } from './controller-harness.ts';

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.10.3', port, path, headers: { host: 'product' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

test('metrics are aggregated per service and per edge from every proxy', async (t) => {
  const dir = tempDir(t);
  const app = createServer((req, res) => {
    res.statusCode = req.url === '/fail' ? 500 : 200;
    res.end('ok');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.20.1', r));
  t.after(() => new Promise<void>((r) => app.close(() => r())));
  const port = (app.address() as AddressInfo).port;
  writeWorkloads(join(dir, 'workloads.json'), loopbackWorkloads({ product: port, web: port }).filter((w) => w.id !== 'web-app'));
  const ctl = await inProcessController(t, { dir, config: { services: { product: { ports: [port], retries: { attempts: 0 } } } } });
  for (const service of ['web', 'product']) {
    // mTLS between the sidecars (the controller's default): certificates from its CA.
    const identity = await identityFromController({ url: ctl.url, bearer: TOKEN, service, timeoutMs: 10_000 });
    t.after(() => identity.close());
    const handle = await startProxy({ admin: { host: '127.0.0.1', port: 0 }, accessLog: { write: () => true } as unknown as NodeJS.WritableStream, identity });
    t.after(() => handle.close());
    const c = startConfigClient({ url: ctl.url, token: TOKEN, service, proxyId: `${service}-mesh`, handle });
    t.after(() => c.close());
  }
  await eventually(async () => assert.equal(await get(port, '/'), 200));

  const m = await eventually(async () => {
    for (let i = 0; i < 9; i++) await get(port, '/');
    await get(port, '/fail');
    const r = await api(ctl.url, 'GET', '/v1/metrics');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.scrapeErrors, []);
    const svc = r.body.services.find((s: any) => s.service === 'product');
    const edge = r.body.edges.find((e: any) => e.source === 'web' && e.destination === 'product');
    assert.ok(svc && svc.rps > 0 && edge && edge.rps > 0, JSON.stringify(r.body));
    assert.ok(svc.successRate > 0.5 && svc.successRate < 1, JSON.stringify(svc));
    return { svc, edge };
  }, { timeoutMs: 15_000, intervalMs: 100 });
  assert.ok(m.svc.p50Ms !== null && m.svc.p99Ms >= m.svc.p50Ms, JSON.stringify(m.svc));
  assert.ok(m.edge.successRate < 1);
});
