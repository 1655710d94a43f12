// A small live mesh for the top/stat tests: a real controller (static
// discovery) scraping two real proxies, web → product, in front of an
// upstream that fails /fail and nothing else. Everything closes in t.after.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { eventually } from '../../harness/eventually.ts';
import { startProxy } from '../../../src/proxy/proxy.ts';
import { startConfigClient } from '../../../src/proxy/config-client.ts';
import { api, inProcessController, loopbackWorkloads, tempDir, TOKEN, writeWorkloads } from '../controller/controller-harness.ts';

export const MESHCTL = join(import.meta.dirname, '../../../src/cli/main.ts');

type T = { after(fn: () => Promise<void> | void): void };

/** Runs meshctl without blocking this process's event loop (the controller and proxies live here). */
export function meshctl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MESHCTL, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

export async function startSmallMesh(t: T) {
  const dir = tempDir(t);
  const app = createServer((req, res) => {
    res.statusCode = req.url === '/fail' ? 503 : 200;
    res.end('ok');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.20.1', r));
  t.after(() => new Promise<void>((r) => app.close(() => r())));
  const port = (app.address() as AddressInfo).port;
  writeWorkloads(join(dir, 'workloads.json'), loopbackWorkloads({ product: port, web: port }).filter((w) => w.id !== 'web-app'));
  const ctl = await inProcessController(t, { dir, config: { services: { product: { ports: [port], retries: { attempts: 0 } } } } });
  for (const service of ['web', 'product']) {
    const handle = await startProxy({ admin: { host: '127.0.0.1', port: 0 }, accessLog: { write: () => true } as unknown as NodeJS.WritableStream });
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
  /** Four requests, one failing: 75 % success. */
  const batch = async () => {
    for (let i = 0; i < 3; i++) assert.equal(await get('/'), 200);
    assert.equal(await get('/fail'), 503);
  };
  return { ctl, url: ctl.url, token: TOKEN, batch, cli: ['--controller', ctl.url, '--token', TOKEN] };
}
