// Builds snapshots and starts proxies for tests: one outbound listener on
// port 0 in front of named clusters, with the access log captured in memory.
import { PassThrough } from 'node:stream';
import { startProxy } from '../../src/proxy/proxy.ts';
import type { ProxyHandle } from '../../src/proxy/proxy-handle.ts';
import type { SnapshotInput } from '../../src/shared/snapshot.ts';

type ListenerInput = NonNullable<SnapshotInput['listeners']>[number];
type ClusterInput = NonNullable<SnapshotInput['clusters']>[number];

export interface TestProxy {
  proxy: ProxyHandle;
  /** Port of the named listener (default: the first). */
  port(listener?: string): number;
  adminPort(): number;
  /** Parsed access-log lines so far. */
  logs(): Record<string, unknown>[];
  close(): Promise<void>;
}

export function cluster(name: string, ports: number[], extra: Partial<ClusterInput> = {}): ClusterInput {
  return { name, endpoints: ports.map((port) => ({ address: '127.0.0.1', port })), ...extra };
}

export function httpListener(name: string, routes: ListenerInput['routes'], extra: Partial<ListenerInput> = {}): ListenerInput {
  return { name, address: '127.0.0.1', port: 0, direction: 'outbound', protocol: 'auto', routes, ...extra };
}

export function snapshot(listeners: ListenerInput[], clusters: ClusterInput[], extra: Partial<SnapshotInput> = {}): SnapshotInput {
  return { version: 1, node: { service: 'orders' }, listeners, clusters, ...extra };
}

export async function startTestProxy(snap: SnapshotInput | undefined, { admin = true } = {}): Promise<TestProxy> {
  const log = new PassThrough();
  let text = '';
  log.on('data', (c: Buffer) => (text += c.toString()));
  const proxy = await startProxy({ snapshot: snap, accessLog: log, admin: admin ? { host: '127.0.0.1', port: 0 } : undefined });
  const first = snap?.listeners?.[0]?.name;
  return {
    proxy,
    port: (name = first) => {
      const a = proxy.listenerAddress(name!);
      if (!a) throw new Error(`no listener ${name}`);
      return a.port;
    },
    adminPort: () => proxy.adminAddress()!.port,
    logs: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    close: () => proxy.close(),
  };
}
