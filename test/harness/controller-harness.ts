// Builders for controller tests: a static discovery file, an in-process
// controller on port 0, an API client, and a fake proxy for when the real one
// is not what a test is about.
import { mkdtempSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import { startController, type ControllerHandle } from '../../src/controller/start-controller.ts';
import { StaticDiscovery } from '../../src/controller/discovery/static-discovery.ts';
import { MeshConfig, type MeshConfigInput } from '../../src/shared/mesh-config.ts';
import type { Workload } from '../../src/shared/api.ts';
import { parseSnapshot, type Snapshot } from '../../src/shared/snapshot.ts';
import type { ApplyResult } from '../../src/proxy/proxy-handle.ts';

export const TOKEN = 'test-token';

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-ctl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes the discovery file atomically (write + rename), as an editor or a tool would. */
export function writeWorkloads(file: string, workloads: Partial<Workload>[]): void {
  writeFileSync(`${file}.tmp`, JSON.stringify({ workloads }));
  renameSync(`${file}.tmp`, file);
}

export async function inProcessController(
  t: { after(fn: () => Promise<void> | void): void },
  opts: { dir: string; config?: MeshConfigInput; port?: number; project?: string },
): Promise<ControllerHandle> {
  const ctl = await startController({
    project: opts.project ?? 'test',
    config: MeshConfig.parse(opts.config ?? {}),
    discovery: new StaticDiscovery(join(opts.dir, 'workloads.json'), { intervalMs: 20 }),
    stateDir: join(opts.dir, 'state'),
    listen: { host: '127.0.0.1', port: opts.port ?? 0 },
    token: TOKEN,
    scrapeMs: 200,
  });
  let closed = false;
  const close = ctl.close;
  ctl.close = async () => {
    if (closed) return;
    closed = true;
    await close();
  };
  t.after(() => ctl.close());
  return ctl;
}

export async function api(base: string, method: string, path: string, body?: unknown, token = TOKEN): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/**
 * A stand-in for ProxyHandle's apply/current: validates like the proxy does
 * (parseSnapshot) and also rejects what a real proxy cannot compile (a bad
 * header regex), so the NACK path has something real to reject.
 */
export function fakeProxy() {
  let live: Snapshot | undefined;
  const applied: Snapshot[] = [];
  const stats = { calls: 0 };
  return {
    applied,
    stats,
    current: () => live,
    async apply(input: unknown): Promise<ApplyResult> {
      stats.calls++;
      const r = parseSnapshot(input);
      if (!r.ok) return r;
      for (const l of r.snapshot.listeners)
        for (const route of l.routes)
          for (const h of route.match.headers ?? []) {
            try {
              if (h.regex) new RegExp(h.regex);
            } catch (err) {
              return { ok: false, error: `listener ${l.name} route ${route.name}: ${(err as Error).message}`, issues: [] };
            }
          }
      if (live && live.hash === r.snapshot.hash) return { ok: true, changed: false, version: live.version, hash: live.hash! };
      live = r.snapshot;
      applied.push(r.snapshot);
      return { ok: true, changed: true, version: live.version, hash: live.hash! };
    },
  };
}

/** Loopback workloads for two services, web → product, each with its sidecar. */
export function loopbackWorkloads(ports: { product: number; web: number }, extra: Partial<Workload>[] = []): Partial<Workload>[] {
  return [
    { id: 'web-app', service: 'web', role: 'app', addresses: { 'web-net': '127.0.10.1' }, ports: [ports.web] },
    { id: 'web-mesh', service: 'web', role: 'proxy', addresses: { mesh: '127.0.10.2', 'web-net': '127.0.10.3' } },
    { id: 'product-app-1', service: 'product', role: 'app', addresses: { 'product-net': '127.0.20.1' }, ports: [ports.product] },
    { id: 'product-mesh', service: 'product', role: 'proxy', addresses: { mesh: '127.0.20.2', 'product-net': '127.0.20.3' } },
    ...extra,
  ];
}

/**
 * web's app calling http://product:PORT in the loopbackWorkloads() layout: its
 * DNS answer is web's sidecar on web-net (fetch cannot set Host). Resolves
 * with the body of a 200, rejects with the status and body otherwise.
 */
export function callProduct(port: number, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.10.3', port, path: '/', headers: { host: `product:${port}`, ...headers }, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${res.statusCode}: ${body}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
