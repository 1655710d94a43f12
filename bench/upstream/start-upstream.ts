// The fixed upstream every scenario ends at: HAProxy answering from memory
// (default, so the upstream is never the bottleneck, even behind HAProxy hops),
// or a Node http server in its own process.
import { fileURLToPath } from 'node:url';
import type { ProcessGroup, Started } from '../lib/process-group.ts';
import { freePort, httpGet, waitUntil } from '../lib/net.ts';
import { startHaproxyUpstream } from '../hops/haproxy.ts';
import type { Address } from '../hops/hop.ts';

const script = fileURLToPath(new URL('./upstream-server.ts', import.meta.url));

export interface Upstream {
  kind: 'haproxy' | 'node';
  address: Address;
  process: Started;
  /** Node upstream only: open connections on the data port. */
  openSockets?: () => Promise<{ open: number; total: number; slowStarted: number }>;
}

export async function startUpstream(kind: 'haproxy' | 'node', procs: ProcessGroup, tmpDir: string, bodyBytes: number): Promise<Upstream> {
  if (kind === 'haproxy') {
    const { address, process: proc } = await startHaproxyUpstream(procs, tmpDir, Buffer.alloc(bodyBytes, 'x'));
    return { kind, address, process: proc };
  }
  const [port, control] = [await freePort(), await freePort()];
  const p = procs.start('upstream (node)', process.execPath, [script, String(port), String(control), String(bodyBytes)]);
  const openSockets = async () => JSON.parse((await httpGet(`http://127.0.0.1:${control}/`)).body.toString());
  await waitUntil(async () => (await httpGet(`http://127.0.0.1:${port}/`, 500)).status === 200, {
    what: 'node upstream answering',
    stop: () => (p.child.exitCode !== null ? `node upstream exited: ${p.tail()}` : undefined),
  });
  return { kind, address: { host: '127.0.0.1', port }, process: p, openSockets };
}
