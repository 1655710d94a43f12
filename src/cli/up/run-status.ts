// `meshctl status`: what the controller sees, like `istioctl proxy-status`:
// services with endpoints and health, each proxy's snapshot version, whether
// it is in sync and since when; services whose ports are unknown, with the fix.
import { CertsResponse } from '../../shared/identity.ts';
import { ControllerClient } from '../controller-client.ts';
import { requireUpState } from './mesh-state.ts';
import { renderTable } from './summary.ts';

export interface StatusReport {
  project: string;
  controller: string;
  discovery: { kind: string; stale: boolean; error?: string };
  buildErrors: string[];
  services: { name: string; versions: string[]; ports: number[]; apps: number; healthyApps: number; sidecars: number }[];
  proxies: { proxyId: string; service: string; connected: boolean; desiredVersion?: number; ackedVersion?: number; inSync: boolean; syncAgeMs?: number; error?: string }[];
  portsUnknown: { service: string; fix: string }[];
  /** The leaf the CA last issued per service (none: identity not issued, or a controller without a CA). */
  certificates: { service: string; spiffeId: string; notAfter: string; expiresInMs: number }[];
}

export async function connectToProject(dir: string): Promise<{ client: ControllerClient; project: string }> {
  const state = requireUpState(dir);
  const client = await ControllerClient.connect({ dir });
  return { client, project: state.project };
}

export async function collectStatus(dir: string): Promise<StatusReport> {
  const { client, project } = await connectToProject(dir);
  const [health, services, proxies, certs] = await Promise.all([
    client.health(),
    client.services(),
    client.proxies(),
    client.call('GET', '/v1/certs', CertsResponse).catch(() => undefined),
  ]);
  const rows = services.services.map((s) => {
    const apps = s.endpoints.filter((e) => e.role === 'app');
    return { name: s.name, versions: s.versions, ports: s.ports, apps: apps.length, healthyApps: apps.filter((e) => e.healthy).length, sidecars: s.endpoints.length - apps.length };
  });
  return {
    project,
    controller: client.url,
    discovery: { kind: health.discovery.kind, stale: health.discovery.stale, ...(health.discovery.error ? { error: health.discovery.error } : {}) },
    buildErrors: health.buildErrors,
    services: rows,
    proxies: proxies.proxies.map((p) => ({
      proxyId: p.proxyId,
      service: p.service,
      connected: p.connected,
      desiredVersion: p.desired?.version,
      ackedVersion: p.ack?.version,
      inSync: p.inSync,
      syncAgeMs: p.lastSyncAgeMs,
      ...(p.ack && !p.ack.ok ? { error: p.ack.error } : {}),
    })),
    certificates: (certs?.services ?? []).map((c) => ({ service: c.service, spiffeId: c.spiffeId, notAfter: c.notAfter, expiresInMs: Date.parse(c.notAfter) - Date.now() })),
    portsUnknown: rows
      .filter((s) => s.apps > 0 && s.ports.length === 0)
      // Discovery tried to learn them from the running app (a LISTEN socket reachable from the sidecar) and found none.
      .map((s) => ({ service: s.name, fix: `it listens on no port the sidecar can reach (none, or 127.0.0.1 only); if it should be callable, make it listen on 0.0.0.0 and/or declare the ports in mesh.config.ts (services: { ${s.name}: { ports: [8080] } }) or with \`expose:\` in the compose file` })),
  };
}

const age = (ms?: number) =>
  ms === undefined ? '-' : ms < 1000 ? `${ms}ms` : ms < 120_000 ? `${Math.round(ms / 1000)}s` : ms < 7_200_000 ? `${Math.round(ms / 60_000)}m` : `${Math.round(ms / 3_600_000)}h`;

export function formatStatus(r: StatusReport): string {
  const out: string[] = [`project ${r.project}, controller ${r.controller}, discovery ${r.discovery.kind}${r.discovery.stale ? ' (STALE' + (r.discovery.error ? `: ${r.discovery.error}` : '') + ')' : ''}`, ''];
  out.push(renderTable(['SERVICE', 'VERSIONS', 'PORTS', 'APPS (HEALTHY)', 'SIDECARS'], r.services.map((s) => [s.name, s.versions.join(',') || '-', s.ports.join(',') || 'unknown', `${s.apps} (${s.healthyApps})`, String(s.sidecars)])));
  out.push(
    renderTable(
      ['PROXY', 'SERVICE', 'CONNECTED', 'DESIRED', 'ACKED', 'SYNC', 'SYNC AGE'],
      r.proxies.map((p) => [p.proxyId.slice(0, 12), p.service, p.connected ? 'yes' : 'NO', String(p.desiredVersion ?? '-'), String(p.ackedVersion ?? '-'), p.inSync ? 'SYNCED' : p.error ? `REJECTED: ${p.error}` : 'STALE', age(p.syncAgeMs)]),
    ),
  );
  if (r.certificates.length) {
    out.push(renderTable(['SERVICE', 'IDENTITY', 'CERT EXPIRES IN'], r.certificates.map((c) => [c.service, c.spiffeId, c.expiresInMs > 0 ? age(c.expiresInMs) : 'EXPIRED'])));
  } else out.push('certificates: none issued (mTLS off)\n');
  for (const u of r.portsUnknown) out.push(`warning: ${u.service}: no listening port learned, so no one can call it through the mesh; ${u.fix}`);
  for (const e of r.buildErrors) out.push(`build error: ${e}`);
  return out.join('\n').trimEnd() + '\n';
}
