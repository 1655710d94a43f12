// The table `up` ends with: per meshed service, its app replicas, the host
// ports that reach it (published on its sidecar), and the mTLS state as the
// snapshots say it (honestly "off (plaintext)" while no certificate is pushed).
import { z } from 'zod';
import type { ControllerClient } from '../controller-client.ts';
import { projectContainers, publishedPorts } from './docker-facts.ts';

export interface ServiceRow {
  service: string;
  replicas: number;
  sidecars: number;
  hostPorts: string[];
  mtls: string;
}

// Only what the mTLS column needs: each inbound listener's tls mode, each cluster's tls switch.
const SnapshotTls = z
  .object({
    listeners: z.array(z.object({ direction: z.string().optional(), tls: z.object({ mode: z.string() }).passthrough().optional() }).passthrough()).default([]),
    clusters: z.array(z.object({ tls: z.object({ enabled: z.boolean().optional() }).passthrough().optional() }).passthrough()).default([]),
  })
  .passthrough();

/** The mesh's mTLS state as one proxy's snapshot says it. */
export function mtlsState(snap: z.infer<typeof SnapshotTls>): string {
  const modes = new Set(snap.listeners.filter((l) => l.direction === 'inbound').map((l) => l.tls?.mode ?? 'disabled'));
  const outbound = snap.clusters.some((c) => c.tls?.enabled);
  if (modes.has('strict') && !modes.has('disabled') && !modes.has('permissive')) return 'strict';
  if (modes.has('permissive') || modes.has('strict')) return `permissive (inbound also takes plaintext)${outbound ? '' : ', outbound plaintext'}`;
  return outbound ? 'outbound only (inbound plaintext)' : 'off (plaintext)';
}

export async function summarise(project: string, client: ControllerClient): Promise<ServiceRow[]> {
  const containers = projectContainers(project).filter((c) => c.state === 'running');
  const proxies = (await client.proxies()).proxies;
  const services = [...new Set(containers.filter((c) => c.role === 'proxy').map((c) => c.service.replace(/-mesh$/, '')))].sort();
  const rows: ServiceRow[] = [];
  for (const service of services) {
    const sidecars = containers.filter((c) => c.role === 'proxy' && c.service === `${service}-mesh`);
    const one = proxies.find((p) => p.service === service);
    let mtls = 'unknown';
    if (one) {
      const snap = await client.call('GET', `/v1/snapshots/${encodeURIComponent(one.proxyId)}`, SnapshotTls).catch(() => undefined);
      mtls = snap === undefined ? 'unknown' : mtlsState(snap);
    }
    rows.push({
      service,
      replicas: containers.filter((c) => c.role === 'app' && c.service === service).length,
      sidecars: sidecars.length,
      hostPorts: [...new Set(sidecars.flatMap(publishedPorts).filter((a) => !a.startsWith('[') && !a.startsWith('::')))].sort(),
      mtls,
    });
  }
  return rows;
}

export function renderTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

export function formatSummary(rows: ServiceRow[]): string {
  return renderTable(
    ['SERVICE', 'REPLICAS', 'SIDECARS', 'HOST PORTS', 'MTLS'],
    rows.map((r) => [r.service, String(r.replicas), String(r.sidecars), r.hostPorts.join(', ') || '-', r.mtls]),
  );
}
