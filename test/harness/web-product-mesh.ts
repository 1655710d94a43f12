// A small live mesh: a real controller (static discovery, its CA on, so the
// sidecars talk mTLS as in production) and two real proxies, web → product,
// in front of an upstream that answers /fail with failStatus, /slow with 200
// after slowMs, and anything else with 200 at once. Everything closes in t.after.
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { eventually } from './eventually.ts';
import { startProxy } from '../../src/proxy/proxy.ts';
import { startConfigClient } from '../../src/proxy/config-client.ts';
import { identityFromController } from '../../src/proxy/identity/controller-signer.ts';
import { api, inProcessController, loopbackWorkloads, tempDir, TOKEN, writeWorkloads } from './controller-harness.ts';

type T = { after(fn: () => Promise<void> | void): void };

export async function startWebProductMesh(t: T, { failStatus = 503, slowMs = 100 } = {}) {
  const dir = tempDir(t);
  const app = createServer((req, res) => {
    res.statusCode = req.url === '/fail' ? failStatus : 200;
    if (req.url === '/slow') setTimeout(() => res.end('ok'), slowMs);
    else res.end('ok');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.20.1', r));
  t.after(() => new Promise<void>((r) => app.close(() => r())));
  const port = (app.address() as AddressInfo).port;
  writeWorkloads(join(dir, 'workloads.json'), loopbackWorkloads({ product: port, web: port }).filter((w) => w.id !== 'web-app'));
  const ctl = await inProcessController(t, { dir, config: { services: { product: { ports: [port], retries: { attempts: 0 } } } } });
  for (const service of ['web', 'product']) {
    const identity = await identityFromController({ url: ctl.url, bearer: TOKEN, service, timeoutMs: 10_000 });
    t.after(() => identity.close());
    const handle = await startProxy({ admin: { host: '127.0.0.1', port: 0 }, accessLog: { write: () => true } as unknown as NodeJS.WritableStream, identity });
    t.after(() => handle.close());
    const c = startConfigClient({ url: ctl.url, token: TOKEN, service, proxyId: `${service}-mesh`, handle });
    t.after(() => c.close());
  }
  // Both proxies hold their snapshot (listeners bound) before any request, so no request of a batch is lost.
  await eventually(async () => {
    const r = await api(ctl.url, 'GET', '/v1/proxies');
    assert.equal(r.body.proxies.filter((p: { inSync: boolean }) => p.inSync).length, 2, JSON.stringify(r.body));
  });
  /** A request from web's app to product, through web's sidecar (outbound) and product's (inbound). */
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.10.3', port, path, headers: { host: 'product' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end();
    });
  return { ctl, url: ctl.url, token: TOKEN, get };
}
