// Builds the table of each dashboard view from one round of controller data:
// services (with version rows while a canary runs), edges, one service's
// routes, and proxies. Health tones are decided here, drawing is not.
import type { MetricsResponse } from '../../shared/api.ts';
import type { MeshData } from './fetch-mesh-data.ts';
import { formatAge, formatMs, formatPercent, formatRate, NONE } from './format-figures.ts';
import type { Tone } from './palette.ts';
import type { Cell, Column, Row, TableModel } from './table-model.ts';

export const VIEWS = ['services', 'edges', 'routes', 'proxies'] as const;
export type ViewName = (typeof VIEWS)[number];

export type Thresholds = {
  /** p99 above this is yellow, above twice this red. */
  p99Ms: number;
  /** A proxy out of sync for longer than this is red (shorter: a push in flight, yellow). */
  staleSyncMs: number;
};
export const DEFAULT_THRESHOLDS: Thresholds = { p99Ms: 500, staleSyncMs: 10_000 };

type Figures = Omit<MetricsResponse['services'][number], 'service'>;

const figureColumns: Column[] = [
  { key: 'rps', title: 'RPS', align: 'right', priority: 0 },
  { key: 'success', title: 'SUCCESS', align: 'right', priority: 0 },
  { key: 'p50', title: 'P50', align: 'right', priority: 3 },
  { key: 'p95', title: 'P95', align: 'right', priority: 2 },
  { key: 'p99', title: 'P99', align: 'right', priority: 0 },
  { key: 'retries', title: 'RETRY/S', align: 'right', priority: 4 },
  { key: 'conns', title: 'CONNS', align: 'right', priority: 5 },
];

export function successTone(rate: number | null): Tone {
  if (rate === null) return 'dim';
  return rate < 0.95 ? 'bad' : rate < 0.99 ? 'warn' : 'ok';
}

export function latencyTone(ms: number | null, thresholdMs: number): Tone {
  if (ms === null) return 'dim';
  return ms > 2 * thresholdMs ? 'bad' : ms > thresholdMs ? 'warn' : 'plain';
}

function figureCells(f: Figures | undefined, t: Thresholds): Record<string, Cell> {
  const n = (v: number | null | undefined) => (v === undefined ? null : v);
  return {
    rps: { text: formatRate(f?.rps), sort: n(f?.rps) },
    success: { text: formatPercent(f?.successRate), sort: n(f?.successRate), tone: successTone(f?.successRate ?? null) },
    p50: { text: formatMs(f?.p50Ms), sort: n(f?.p50Ms), tone: latencyTone(f?.p50Ms ?? null, t.p99Ms) },
    p95: { text: formatMs(f?.p95Ms), sort: n(f?.p95Ms), tone: latencyTone(f?.p95Ms ?? null, t.p99Ms) },
    p99: { text: formatMs(f?.p99Ms), sort: n(f?.p99Ms), tone: latencyTone(f?.p99Ms ?? null, t.p99Ms) },
    retries: { text: formatRate(f?.retries), sort: n(f?.retries) },
    conns: { text: f ? String(f.activeConnections) : NONE, sort: f ? f.activeConnections : null },
  };
}

const text = (s: string, tone?: Tone): Cell => ({ text: s, sort: s, tone });

export function servicesTable(data: MeshData, t: Thresholds = DEFAULT_THRESHOLDS): TableModel {
  const byName = new Map(data.metrics.services.map((s) => [s.service, s]));
  const names = new Set([...byName.keys(), ...data.services.map((s) => s.name)]);
  const weights = data.overrides.services;
  const anyWeights = Object.values(weights).some((o) => o.weights && Object.keys(o.weights).length > 0);
  const columns: Column[] = [{ key: 'name', title: 'SERVICE', align: 'left', priority: 0 }, ...figureColumns];
  if (anyWeights) columns.push({ key: 'weight', title: 'WEIGHT', align: 'right', priority: 1 });
  const rows = [...names].sort().map((name): Row => {
    const w = weights[name]?.weights ?? {};
    const total = Object.values(w).reduce((a, b) => a + b, 0);
    const versions = [...new Set([...(data.services.find((s) => s.name === name)?.versions ?? []), ...Object.keys(w)])].sort();
    // Version rows only while there is something to tell apart (two versions, or a split).
    // The proxies' metrics carry no version label yet, so these rows show the weight only.
    const children =
      versions.length > 1 || total > 0
        ? versions.map((v): Row => ({
            id: `${name}@${v}`,
            name: `${name}@${v}`,
            cells: {
              name: text(`  └ ${v}`, 'dim'),
              weight: total > 0 ? { text: `${Math.round(((w[v] ?? 0) / total) * 100)}%`, sort: w[v] ?? 0, tone: 'accent' } : text(''),
            },
          }))
        : undefined;
    return {
      id: name,
      name,
      cells: { name: text(name), ...figureCells(byName.get(name), t), weight: text(total > 0 ? 'split' : '', 'accent') },
      ...(children ? { children } : {}),
    };
  });
  return { columns, rows, empty: 'no services yet (discovery has found none)' };
}

export function edgesTable(data: MeshData, t: Thresholds = DEFAULT_THRESHOLDS): TableModel {
  const columns: Column[] = [
    { key: 'name', title: 'SOURCE → DESTINATION', align: 'left', priority: 0 },
    ...figureColumns,
    { key: 'mtls', title: 'MTLS', align: 'left', priority: 1 },
  ];
  // The aggregate also lists idle pseudo-edges (gauges without a destination,
  // e.g. "web → web", "unknown → web"); an edge with nothing to show is left out.
  const live = data.metrics.edges.filter((e) => e.rps > 0 || e.successRate !== null || e.activeConnections > 0);
  const rows = live.map((e): Row => {
    const name = `${e.source} → ${e.destination}`;
    return { id: name, name, cells: { name: text(name), ...figureCells(e, t), mtls: mtlsCell(e.mtls) } };
  });
  return { columns, rows, empty: 'no traffic between services in the last few seconds' };
}

/** How the caller's sidecar reached the destination (its `tls` metric label); plaintext inside the mesh is worth a look. */
export function mtlsCell(m: MetricsResponse['edges'][number]['mtls']): Cell {
  switch (m) {
    case 'mtls':
      return text('yes', 'ok');
    case 'plaintext':
      return text('no', 'warn');
    case 'mixed':
      return text('partly', 'warn');
    default:
      return text('unknown', 'dim');
  }
}

/** Time left on the proxy's leaf: its own (by proxy id) when the CA knows it, else its service's latest. */
export function certCell(data: MeshData, proxyId: string, service: string): Cell {
  const leaf = data.certs?.leaves?.find((l) => l.proxyId === proxyId) ?? data.certs?.services.find((l) => l.service === service);
  if (!leaf) return text(NONE, 'dim');
  const left = Date.parse(leaf.notAfter) - data.at;
  if (left <= 0) return { text: `expired ${formatAge(-left)} ago`, sort: left, tone: 'bad' };
  // Sidecars renew at 2/3 of the lifetime: less than a third left means a renewal is overdue.
  const lifetime = Date.parse(leaf.notAfter) - Date.parse(leaf.notBefore);
  return { text: `in ${formatAge(left)}`, sort: left, tone: left < lifetime / 3 ? 'warn' : 'plain' };
}

export function routesTable(data: MeshData, service: string | undefined, t: Thresholds = DEFAULT_THRESHOLDS): TableModel {
  const columns: Column[] = [{ key: 'name', title: 'ROUTE', align: 'left', priority: 0 }, ...figureColumns.filter((c) => c.key !== 'conns')];
  if (!service) return { columns, rows: [], empty: 'pick a service: press 1, move with ↑/↓ and press Enter' };
  if (!data.metrics.routes) return { columns, rows: [], empty: 'this controller does not report per-route figures; upgrade it' };
  const rows = data.metrics.routes
    .filter((r) => r.service === service)
    .map((r): Row => {
      const name = r.route || '(no route matched)';
      return { id: `${service}/${name}`, name, cells: { name: text(name), ...figureCells(r, t) } };
    });
  return { columns, rows, empty: `no requests to ${service} in the last few seconds` };
}

export function proxiesTable(data: MeshData, t: Thresholds = DEFAULT_THRESHOLDS): TableModel {
  const columns: Column[] = [
    { key: 'name', title: 'PROXY', align: 'left', priority: 0 },
    { key: 'service', title: 'SERVICE', align: 'left', priority: 0 },
    { key: 'version', title: 'VERSION', align: 'right', priority: 0 },
    { key: 'sync', title: 'SYNC', align: 'left', priority: 0 },
    { key: 'age', title: 'SYNC AGE', align: 'right', priority: 0 },
    { key: 'connected', title: 'STREAM', align: 'left', priority: 2 },
    { key: 'cert', title: 'CERT EXPIRY', align: 'right', priority: 3 },
    { key: 'error', title: 'LAST NACK', align: 'left', priority: 4 },
  ];
  const rows = data.proxies.map((p): Row => {
    const acked = p.ack?.ok ? p.ack.version : undefined;
    const desired = p.desired?.version;
    const version = acked === undefined ? (desired === undefined ? NONE : `→${desired}`) : acked === desired || desired === undefined ? String(acked) : `${acked}→${desired}`;
    const outFor = p.inSync ? 0 : (p.lastSyncAgeMs ?? Infinity);
    const ageTone: Tone = p.inSync ? 'plain' : outFor > t.staleSyncMs ? 'bad' : 'warn';
    return {
      id: p.proxyId,
      name: `${p.proxyId} ${p.service}`,
      cells: {
        name: text(p.proxyId),
        service: text(p.service),
        version: { text: version, sort: acked ?? -1 },
        sync: p.inSync ? text('in sync', 'ok') : text(p.ack && !p.ack.ok ? 'rejected' : 'behind', p.ack && !p.ack.ok ? 'bad' : ageTone),
        age: { text: p.lastSyncAgeMs === undefined ? 'never' : formatAge(p.lastSyncAgeMs), sort: p.lastSyncAgeMs ?? Infinity, tone: ageTone },
        connected: text(p.connected ? 'open' : 'closed', p.connected ? 'plain' : 'bad'),
        cert: certCell(data, p.proxyId, p.service),
        error: text(p.ack && !p.ack.ok ? (p.ack.error ?? 'rejected') : '', 'bad'),
      },
    };
  });
  return { columns, rows, empty: 'no proxies have connected yet' };
}

export function tableFor(view: ViewName, data: MeshData, service: string | undefined, t: Thresholds = DEFAULT_THRESHOLDS): TableModel {
  switch (view) {
    case 'services':
      return servicesTable(data, t);
    case 'edges':
      return edgesTable(data, t);
    case 'routes':
      return routesTable(data, service, t);
    case 'proxies':
      return proxiesTable(data, t);
  }
}
