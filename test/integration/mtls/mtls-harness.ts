// Builders for mTLS tests: a mesh CA in a temp dir, workload identities signed
// by it, and a caller/callee proxy pair (orders → payments) whose sidecars
// talk mTLS to each other on the callee's inbound listener.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { CertAuthority } from '../../../src/controller/certs/cert-authority.ts';
import { WorkloadIdentity } from '../../../src/proxy/identity/workload-identity.ts';
import { startProxy } from '../../../src/proxy/proxy.ts';
import type { ProxyHandle } from '../../../src/proxy/proxy-handle.ts';
import type { SnapshotInput } from '../../../src/shared/snapshot.ts';

type T = { after(fn: () => unknown): void };
type ListenerInput = NonNullable<SnapshotInput['listeners']>[number];

export async function meshCa(t: T, opts: { now?: () => number; leafTtlMs?: number; project?: string } = {}): Promise<CertAuthority> {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-mtls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return CertAuthority.open({ stateDir: dir, project: opts.project ?? 'shop', now: opts.now, leafTtlMs: opts.leafTtlMs });
}

export async function identityFor(t: T, ca: CertAuthority, service: string): Promise<WorkloadIdentity> {
  const id = await WorkloadIdentity.start({ service, signer: (req) => ca.sign(req) });
  t.after(() => id.close());
  return id;
}

export interface RunningProxy {
  proxy: ProxyHandle;
  port(name: string): number;
  logs(): Record<string, unknown>[];
  metrics(): Promise<string>;
}

export async function runProxy(t: T, snap: SnapshotInput, identity?: WorkloadIdentity): Promise<RunningProxy> {
  const log = new PassThrough();
  let text = '';
  log.on('data', (c: Buffer) => (text += c.toString()));
  const proxy = await startProxy({ snapshot: snap, accessLog: log, admin: { host: '127.0.0.1', port: 0 }, identity });
  t.after(() => proxy.close());
  if (!proxy.current()) throw new Error('snapshot not applied');
  return {
    proxy,
    port: (name) => proxy.listenerAddress(name)!.port,
    logs: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    metrics: async () => (await fetch(`http://127.0.0.1:${proxy.adminAddress()!.port}/metrics`)).text(),
  };
}

/** Sum of a metric's samples whose labels include every pair given. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** An app that echoes what the mesh told it: method, path and x-mesh-peer-identity. */
export async function echoApp(t: T): Promise<{ port: number; seen: Record<string, string | undefined>[] }> {
  const seen: Record<string, string | undefined>[] = [];
  const server = http.createServer((req, res) => {
    const peer = req.headers['x-mesh-peer-identity'] as string | undefined;
    seen.push({ path: req.url, peer });
    req.resume();
    req.on('end', () => res.end(JSON.stringify({ path: req.url, peer: peer ?? null })));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, seen };
}

/** A TCP app that answers each chunk with "echo:<chunk>". */
export async function tcpEchoApp(t: T): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('data', (d) => s.write(`echo:${d}`));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

/** The callee's snapshot: inbound `in` (mTLS mode) → its app. */
export function calleeSnapshot(
  service: string,
  appPort: number,
  opts: { mode?: 'strict' | 'permissive'; protocol?: 'http' | 'tcp'; authz?: ListenerInput['authz'] } = {},
): SnapshotInput {
  const tcp = opts.protocol === 'tcp';
  return {
    version: 1,
    node: { service, project: 'shop' },
    listeners: [
      {
        name: 'in', address: '127.0.0.1', port: 0, direction: 'inbound', protocol: tcp ? 'tcp' : 'http',
        tls: { mode: opts.mode ?? 'strict' },
        ...(tcp ? { tcp: { destinations: [{ cluster: 'app', weight: 1 }], service } } : { routes: [{ name: 'in:default', destinations: [{ cluster: 'app', weight: 1 }], service }] }),
        ...(opts.authz ? { authz: opts.authz } : {}),
      },
    ],
    clusters: [{ name: 'app', service, protocol: tcp ? 'tcp' : 'http1', endpoints: [{ address: '127.0.0.1', port: appPort }] }],
  };
}

/** The caller's snapshot: outbound `out` → `target` over mTLS (h2 over TLS, or TLS-wrapped TCP). */
export function callerSnapshot(service: string, target: string, calleePort: number, opts: { protocol?: 'http' | 'tcp'; tls?: boolean } = {}): SnapshotInput {
  const tcp = opts.protocol === 'tcp';
  return {
    version: 1,
    node: { service, project: 'shop' },
    listeners: [
      {
        name: 'out', address: '127.0.0.1', port: 0, direction: 'outbound', protocol: tcp ? 'tcp' : 'http',
        ...(tcp ? { tcp: { destinations: [{ cluster: `out:${target}`, weight: 1 }], service: target } } : { routes: [{ name: `out:${target}`, destinations: [{ cluster: `out:${target}`, weight: 1 }], service: target }] }),
      },
    ],
    clusters: [
      {
        name: `out:${target}`, service: target, protocol: tcp ? 'tcp' : 'http1',
        endpoints: [{ address: '127.0.0.1', port: calleePort }],
        ...(opts.tls === false ? {} : { tls: { enabled: true } }),
      },
    ],
  };
}

/** orders → payments over mTLS, with payments' app behind. */
export async function meshPair(t: T, opts: { protocol?: 'http' | 'tcp'; authz?: ListenerInput['authz']; mode?: 'strict' | 'permissive' } = {}) {
  const ca = await meshCa(t);
  const ordersId = await identityFor(t, ca, 'orders');
  const paymentsId = await identityFor(t, ca, 'payments');
  const appPort = opts.protocol === 'tcp' ? await tcpEchoApp(t) : undefined;
  const app = opts.protocol === 'tcp' ? undefined : await echoApp(t);
  const callee = await runProxy(t, calleeSnapshot('payments', appPort ?? app!.port, opts), paymentsId);
  const caller = await runProxy(t, callerSnapshot('orders', 'payments', callee.port('in'), { protocol: opts.protocol }), ordersId);
  return { ca, ordersId, paymentsId, app, callee, caller };
}
