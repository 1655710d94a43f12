// A live mesh for the canary tests: a real controller (static discovery,
// restartable on the same port and state dir) and two real proxies, web →
// product, with product running v1 and v2 on two loopback addresses. Each app
// answers with its version, counts what it served (a figures source the
// engine can read) and can fail a share of its requests.
import assert from 'node:assert/strict';
import http, { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { eventually } from '../../harness/eventually.ts';
import { startProxy } from '../../../src/proxy/proxy.ts';
import { startConfigClient } from '../../../src/proxy/config-client.ts';
import { identityFromController } from '../../../src/proxy/identity/controller-signer.ts';
import { startController, type ControllerHandle } from '../../../src/controller/start-controller.ts';
import { StaticDiscovery } from '../../../src/controller/discovery/static-discovery.ts';
import { MeshConfig } from '../../../src/shared/mesh-config.ts';
import type { VersionTotals } from '../../../src/shared/canary.ts';
import type { VersionFigures } from '../../../src/controller/canary/version-figures.ts';
import { api, tempDir, TOKEN, writeWorkloads } from '../../harness/controller-harness.ts';

type T = { after(fn: () => Promise<void> | void): void };

export type App = { version: string; served: number; failed: number; failEvery: number };

/** What the apps themselves served, per version: the engine's figures when proxies do not label versions. */
export class AppFigures implements VersionFigures {
  readonly apps: App[];
  constructor(apps: App[]) {
    this.apps = apps;
  }
  totals(): Record<string, VersionTotals> {
    return Object.fromEntries(this.apps.map((a) => [a.version, { requests: a.served, errors: a.failed, buckets: [[null, a.served]] }]));
  }
}

/** mtls: between the sidecars, strict by default (certificates from the controller's CA); permissive also takes plain HTTP. */
export async function startCanaryMesh(t: T, opts: { figures?: 'apps' | 'proxies'; mtls?: 'strict' | 'permissive'; scrapeMs?: number } = {}) {
  const dir = tempDir(t);
  const apps: App[] = [];
  const listen = async (version: string, host: string, port: number) => {
    const app: App = { version, served: 0, failed: 0, failEvery: 0 };
    const server = createServer((req, res) => {
      if (req.url === '/stream') {
        // A long-lived response: one line with the version every 20 ms until the client leaves.
        res.writeHead(200, { 'x-version': version, 'content-type': 'text/plain' });
        const timer = setInterval(() => res.write(`${version}\n`), 20);
        res.on('close', () => clearInterval(timer));
        return;
      }
      app.served++;
      const fail = app.failEvery > 0 && app.served % app.failEvery === 0;
      if (fail) app.failed++;
      res.writeHead(fail ? 500 : 200, { 'x-version': version, 'x-canary-seen': String(req.headers['x-canary'] ?? '') }).end(version);
    });
    // WebSocket: the first message names the version, then every message comes back prefixed with it.
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => {
      ws.send(version);
      ws.on('message', (m) => ws.send(`${version}:${m}`));
    });
    await new Promise<void>((r) => server.listen(port, host, r));
    t.after(() => new Promise<void>((r) => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      server.close(() => r());
    }));
    apps.push(app);
    return (server.address() as AddressInfo).port;
  };
  const port = await listen('v1', '127.0.20.1', 0);
  await listen('v2', '127.0.20.5', port);
  writeWorkloads(join(dir, 'workloads.json'), [
    { id: 'web-mesh', service: 'web', role: 'proxy', addresses: { mesh: '127.0.10.2', 'web-net': '127.0.10.3' } },
    { id: 'product-v1', service: 'product', version: 'v1', role: 'app', addresses: { 'product-net': '127.0.20.1' }, ports: [port] },
    { id: 'product-v2', service: 'product', version: 'v2', role: 'app', addresses: { 'product-net': '127.0.20.5' }, ports: [port] },
    { id: 'product-mesh', service: 'product', role: 'proxy', addresses: { mesh: '127.0.20.2', 'product-net': '127.0.20.3' } },
  ]);
  const figures = opts.figures === 'proxies' ? undefined : new AppFigures(apps);
  let apiPort = 0;
  const controllers: ControllerHandle[] = [];
  /** Starts (or restarts, on the same port and state dir) the controller. canaryTickMs 0 = tests tick by hand. */
  const controller = async (canaryTickMs = 0) => {
    const ctl = await startController({
      project: 'canary-test',
      config: MeshConfig.parse({ services: { product: { ports: [port], retries: { attempts: 0 }, ...(opts.mtls ? { mtls: opts.mtls } : {}) } } }),
      discovery: new StaticDiscovery(join(dir, 'workloads.json'), { intervalMs: 20 }),
      stateDir: join(dir, 'state'),
      listen: { host: '127.0.0.1', port: apiPort },
      token: TOKEN,
      scrapeMs: opts.scrapeMs ?? 200,
      canaryFigures: figures,
      canaryTickMs,
    });
    apiPort = ctl.address.port;
    controllers.push(ctl);
    return ctl;
  };
  t.after(async () => {
    for (const c of controllers) await c.close().catch(() => {});
  });
  const first = await controller();
  for (const service of ['web', 'product']) {
    const identity = await identityFromController({ url: first.url, bearer: TOKEN, service, timeoutMs: 10_000 });
    t.after(() => identity.close());
    const handle = await startProxy({ admin: { host: '127.0.0.1', port: 0 }, accessLog: { write: () => true } as unknown as NodeJS.WritableStream, identity });
    t.after(() => handle.close());
    const c = startConfigClient({ url: first.url, token: TOKEN, service, proxyId: `${service}-mesh`, handle, backoff: { baseMs: 20, maxMs: 200 } });
    t.after(() => c.close());
  }
  await eventually(async () => {
    const r = await api(first.url, 'GET', '/v1/proxies');
    assert.equal(r.body.proxies.filter((p: { inSync: boolean }) => p.inSync).length, 2, JSON.stringify(r.body));
  });

  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.after(() => agent.destroy());
  /** One request from web's app to product through both sidecars. */
  const get = (headers: Record<string, string> = {}) =>
    new Promise<{ status: number; version: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.10.3', port, path: '/', agent, headers: { host: 'product', ...headers } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, version: String(res.headers['x-version'] ?? '') }));
      });
      req.on('error', reject);
      req.end();
    });
  /** n requests, 8 at a time: the share that v2 served, how many failed (5xx or a broken connection), and why. */
  const load = async (n: number, headers: Record<string, string> = {}) => {
    let v2 = 0;
    let failed = 0;
    let next = 0;
    const errors: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next++ < n) {
          const r = await get(headers).catch((err: Error) => {
            errors.push(err.message);
            return { status: 599, version: '' };
          });
          if (r.version === 'v2') v2++;
          if (r.status >= 500) failed++;
        }
      }),
    );
    return { share: v2 / n, failed, errors };
  };
  /** Weights of the product proxy's inbound catch-all route, as pushed in its snapshot. */
  const pushedWeights = async (ctlUrl: string) => {
    const snap = (await api(ctlUrl, 'GET', '/v1/snapshots/product-mesh')).body;
    const route = snap.listeners.find((l: { direction: string }) => l.direction === 'inbound').routes.find((r: { name: string }) => r.name.endsWith(':default'));
    return Object.fromEntries(route.destinations.map((d: { cluster: string; weight: number }) => [d.cluster.split(':').at(-1), d.weight]));
  };
  /** Waits until both proxies acknowledged the controller's current snapshots. */
  const inSync = (ctlUrl: string) =>
    eventually(async () => {
      const r = await api(ctlUrl, 'GET', '/v1/proxies');
      assert.ok(r.body.proxies.length === 2 && r.body.proxies.every((p: { inSync: boolean }) => p.inSync), JSON.stringify(r.body));
    });
  return { dir, port, apps, controller, first, get, load, pushedWeights, inSync };
}
