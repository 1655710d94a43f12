// The controller's own GET /metrics, in Prometheus text format 0.0.4: its view
// of the mesh (proxies by sync state, sync age, discovery, certificate expiry)
// and the aggregate `meshctl top` shows, per service and per edge, so a
// Prometheus that scrapes only the controller still gets the golden signals.
// Names follow Prometheus' conventions (base units, `_total` only on counters,
// `_ratio` for 0..1, `_timestamp_seconds` for times); promtool lints them in
// test/integration/observability/prometheus-scrape.test.ts.
import type { HealthResponse, MetricsResponse, ProxiesResponse } from '../../shared/api.ts';
import type { Sample } from './prometheus-text.ts';

export type ControllerMetricsInput = {
  proxies: ProxiesResponse['proxies'];
  health: HealthResponse;
  aggregate: MetricsResponse;
  /** Each proxy's latest scrape: cumulative `_sum` / `_count` of the latency summaries come from here. */
  latest: { proxyId: string; service: string; samples: Sample[] }[];
  /** Leaves the CA issued (absent without a CA). */
  leaves?: { service: string; serial: string; notAfter: string; proxyId?: string }[];
};

type Labels = Record<string, string>;
type Family = { name: string; type: 'gauge' | 'summary'; help: string; samples: { suffix?: string; labels: Labels; value: number }[] };

const QUANTILES = [
  ['0.5', 'p50Ms'],
  ['0.95', 'p95Ms'],
  ['0.99', 'p99Ms'],
] as const;

export function controllerMetricsText(input: ControllerMetricsInput): string {
  const fams: Family[] = [];
  const fam = (name: string, type: Family['type'], help: string): Family['samples'] => {
    const f: Family = { name, type, help, samples: [] };
    fams.push(f);
    return f.samples;
  };

  // Proxies: every state is always present (0 included), so a dashboard can sum without `or vector(0)`.
  const states = { in_sync: 0, behind: 0, rejected: 0, disconnected: 0 };
  for (const p of input.proxies) states[!p.connected ? 'disconnected' : p.ack && !p.ack.ok ? 'rejected' : p.inSync ? 'in_sync' : 'behind']++;
  const proxies = fam('mesh_controller_proxies', 'gauge', 'Proxies known to the controller, by snapshot sync state.');
  for (const [state, n] of Object.entries(states)) proxies.push({ labels: { state }, value: n });
  const age = fam('mesh_controller_proxy_sync_age_seconds', 'gauge', 'Seconds since the proxy last acknowledged the snapshot the controller wants it to run.');
  for (const p of input.proxies) if (p.lastSyncAgeMs !== undefined) age.push({ labels: { proxy_id: p.proxyId, service: p.service }, value: p.lastSyncAgeMs / 1000 });
  const version = fam('mesh_controller_proxy_snapshot_version', 'gauge', 'Snapshot version the proxy last acknowledged (ok).');
  for (const p of input.proxies) if (p.ack?.ok) version.push({ labels: { proxy_id: p.proxyId, service: p.service }, value: p.ack.version });
  fam('mesh_controller_discovery_stale', 'gauge', '1 while discovery has lost its event stream and figures may be out of date.').push({ labels: {}, value: input.health.discovery.stale ? 1 : 0 });
  fam('mesh_controller_build_errors', 'gauge', 'Problems the snapshot builder found (GET /v1/health buildErrors).').push({ labels: {}, value: input.health.buildErrors.length });
  fam('mesh_controller_scrape_errors', 'gauge', 'Proxies whose last metrics scrape by the controller failed.').push({ labels: {}, value: input.aggregate.scrapeErrors.length });
  if (input.leaves) {
    const expiry = fam('mesh_controller_certificate_expiry_timestamp_seconds', 'gauge', 'When the leaf certificate the mesh CA last issued to a proxy (or service) expires, in Unix seconds.');
    for (const l of input.leaves) expiry.push({ labels: { service: l.service, proxy_id: l.proxyId ?? '', serial: l.serial }, value: Date.parse(l.notAfter) / 1000 });
  }

  // The aggregate over the controller's scrape window (what `meshctl top` shows). For alerting and
  // dashboards prefer rate() over the proxies' own counters; these serve a Prometheus that scrapes the controller only.
  const totals = cumulative(input.latest);
  const groups = [
    { kind: 'service', rows: input.aggregate.services.map((s) => ({ labels: { service: s.service }, f: s, key: `in\u0000${s.service}` })) },
    {
      kind: 'edge',
      rows: input.aggregate.edges.map((e) => ({ labels: { source_service: e.source, destination_service: e.destination }, f: e, key: `out\u0000${e.source}\u0000${e.destination}` })),
    },
  ];
  for (const { kind, rows } of groups) {
    const who = kind === 'service' ? 'received by the service (inbound sidecars)' : 'sent along the edge (by the caller\'s outbound sidecar)';
    const rps = fam(`mesh_${kind}_requests_per_second`, 'gauge', `HTTP requests per second ${who}, over the controller's scrape window.`);
    const ok = fam(`mesh_${kind}_success_ratio`, 'gauge', `Share of HTTP requests ${who} not answered 5xx, over the scrape window (0..1).`);
    const lat = fam(`mesh_${kind}_request_duration_seconds`, 'summary', `Latency of HTTP requests ${who}: quantiles over the scrape window, sum and count since the proxies started.`);
    const retries = fam(`mesh_${kind}_retries_per_second`, 'gauge', `Upstream attempts retried per second ${kind === 'service' ? 'by the service\'s inbound sidecars' : 'on the edge'}, over the scrape window.`);
    const conns = kind === 'service' ? fam('mesh_service_active_connections', 'gauge', "Open downstream connections on the service's inbound listeners.") : undefined;
    const mtls = kind === 'edge' ? fam('mesh_edge_mtls', 'gauge', '1 when every recent request on the edge went over mesh mTLS, 0 when some or all were plaintext; absent when unknown.') : undefined;
    for (const { labels, f, key } of rows) {
      const t = totals.get(key);
      // The aggregate also lists idle pseudo-edges (gauges without a destination): leave them out.
      if (kind === 'edge' && f.rps === 0 && f.successRate === null && !t) continue;
      rps.push({ labels, value: f.rps });
      if (f.successRate !== null) ok.push({ labels, value: f.successRate });
      for (const [q, k] of QUANTILES) if (f[k] !== null) lat.push({ labels: { ...labels, quantile: q }, value: Math.round(f[k] * 1000) / 1e6 });
      if (t) lat.push({ suffix: '_sum', labels, value: t.sum }, { suffix: '_count', labels, value: t.count });
      retries.push({ labels, value: f.retries });
      conns?.push({ labels, value: f.activeConnections });
      const m = (f as { mtls?: string | null }).mtls;
      if (mtls && m) mtls.push({ labels, value: m === 'mtls' ? 1 : 0 });
    }
  }
  return render(fams);
}

/** Cumulative latency `_sum` / `_count` per service (inbound) and per edge (outbound), summed over proxies. */
function cumulative(latest: ControllerMetricsInput['latest']): Map<string, { sum: number; count: number }> {
  const out = new Map<string, { sum: number; count: number }>();
  for (const { service, samples } of latest) {
    for (const s of samples) {
      const isSum = s.name.endsWith('request_duration_seconds_sum');
      if (!isSum && !s.name.endsWith('request_duration_seconds_count')) continue;
      const dir = s.labels.direction;
      const dst = s.labels.destination_service || service;
      const key = dir === 'outbound' ? `out\u0000${s.labels.source_service || service}\u0000${dst}` : `in\u0000${dst}`;
      const t = out.get(key) ?? { sum: 0, count: 0 };
      if (isSum) t.sum += s.value;
      else t.count += s.value;
      out.set(key, t);
    }
  }
  return out;
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function render(fams: Family[]): string {
  const out: string[] = [];
  for (const f of fams) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
      out.push(`${f.name}${s.suffix ?? ''}${labels.length ? `{${labels.join(',')}}` : ''} ${s.value}`);
    }
  }
  return out.join('\n') + '\n';
}
