// The controller's aggregate from synthetic scrapes: whether each edge is mTLS
// (from the callers' `tls` label), and the controller's own Prometheus text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { MetricsScraper } from '../../../src/controller/metrics/metrics-scraper.ts';
import { controllerMetricsText } from '../../../src/controller/metrics/controller-metrics-text.ts';
import { parsePrometheusText } from '../../../src/controller/metrics/prometheus-text.ts';

const T0 = 1_000_000;
const req = (dir: string, src: string, dst: string, tls: string | undefined, n: number, status = 200) =>
  `mesh_requests_total{direction="${dir}",source_service="${src}",destination_service="${dst}",response_class="${status >= 500 ? '5xx' : '2xx'}",status_code="${status}"${tls === undefined ? '' : `,tls="${tls}"`}} ${n}`;
const hist = (dir: string, src: string, dst: string, n: number, sum: number) =>
  [
    `mesh_request_duration_seconds_bucket{direction="${dir}",source_service="${src}",destination_service="${dst}",le="0.01"} ${n}`,
    `mesh_request_duration_seconds_bucket{direction="${dir}",source_service="${src}",destination_service="${dst}",le="+Inf"} ${n}`,
    `mesh_request_duration_seconds_sum{direction="${dir}",source_service="${src}",destination_service="${dst}"} ${sum}`,
    `mesh_request_duration_seconds_count{direction="${dir}",source_service="${src}",destination_service="${dst}"} ${n}`,
  ].join('\n');

function scraper() {
  const s = new MetricsScraper(() => []);
  // web: all mTLS to product; plaintext to a passthrough db; both to cache; to old (a proxy without the label) unknown.
  const web = (k: number) =>
    [
      req('outbound', 'web', 'product', 'true', 10 * k),
      req('outbound', 'web', 'db', 'false', 5 * k),
      req('outbound', 'web', 'cache', 'true', 3 * k),
      req('outbound', 'web', 'cache', 'false', 1 * k),
      req('outbound', 'web', 'old', undefined, 2 * k),
      hist('outbound', 'web', 'product', 10 * k, 0.05 * k),
    ].join('\n');
  const product = (k: number) => [req('inbound', 'web', 'product', 'true', 9 * k), req('inbound', 'web', 'product', 'true', k, 503), hist('inbound', 'web', 'product', 10 * k, 0.04 * k)].join('\n');
  s.ingest('web-1', 'web', web(1), T0);
  s.ingest('web-1', 'web', web(2), T0 + 1000);
  s.ingest('product-1', 'product', product(1), T0);
  s.ingest('product-1', 'product', product(2), T0 + 1000);
  return s;
}

test('each edge says whether its requests went over mTLS, from the caller sidecar\'s tls label', () => {
  const edges = Object.fromEntries(scraper().aggregate().edges.map((e) => [`${e.source}>${e.destination}`, e.mtls]));
  assert.deepEqual(edges, { 'web>cache': 'mixed', 'web>db': 'plaintext', 'web>old': null, 'web>product': 'mtls' });
});

test('an edge idle in the window keeps what its counters say since the proxy started', () => {
  const s = new MetricsScraper(() => []);
  s.ingest('web-1', 'web', req('outbound', 'web', 'product', 'true', 10), T0);
  s.ingest('web-1', 'web', req('outbound', 'web', 'product', 'true', 10), T0 + 1000);
  assert.equal(s.aggregate().edges[0]!.mtls, 'mtls');
});

test('the controller\'s /metrics: proxies by state, the aggregate as gauges and summaries, certificate expiry', () => {
  const s = scraper();
  const text = controllerMetricsText({
    proxies: [
      { proxyId: 'web-1', service: 'web', connected: true, inSync: true, lastSyncAgeMs: 1500, ack: { ok: true, version: 3, hash: 'h', ageMs: 1 }, desired: { version: 3, hash: 'h' } },
      { proxyId: 'product-1', service: 'product', connected: false, inSync: false },
    ],
    health: { ok: true, project: 'p', discovery: { kind: 'static', stale: false }, buildErrors: [], proxies: 2 },
    aggregate: s.aggregate(),
    latest: s.latest(),
    leaves: [{ service: 'web', proxyId: 'web-1', serial: 'ab', notAfter: new Date(T0 * 1000).toISOString() }],
  });
  const v = (name: string, labels: Record<string, string> = {}) =>
    parsePrometheusText(text).find((x) => x.name === name && Object.entries(labels).every(([k, val]) => x.labels[k] === val))?.value;
  assert.equal(v('mesh_controller_proxies', { state: 'in_sync' }), 1);
  assert.equal(v('mesh_controller_proxies', { state: 'disconnected' }), 1);
  assert.equal(v('mesh_controller_proxies', { state: 'behind' }), 0);
  assert.equal(v('mesh_controller_proxy_sync_age_seconds', { proxy_id: 'web-1' }), 1.5);
  assert.equal(v('mesh_controller_certificate_expiry_timestamp_seconds', { proxy_id: 'web-1', serial: 'ab' }), T0);
  assert.equal(v('mesh_service_requests_per_second', { service: 'product' }), 10);
  assert.equal(v('mesh_service_success_ratio', { service: 'product' }), 0.9);
  // Summary: window quantiles in seconds, cumulative sum and count since the proxies started.
  assert.equal(v('mesh_service_request_duration_seconds', { service: 'product', quantile: '0.5' }), 0.005);
  assert.equal(v('mesh_service_request_duration_seconds_count', { service: 'product' }), 20);
  assert.equal(v('mesh_service_request_duration_seconds_sum', { service: 'product' }), 0.08);
  assert.equal(v('mesh_edge_mtls', { source_service: 'web', destination_service: 'product' }), 1);
  assert.equal(v('mesh_edge_mtls', { source_service: 'web', destination_service: 'cache' }), 0);
  assert.equal(v('mesh_edge_mtls', { source_service: 'web', destination_service: 'old' }), undefined);
  assert.match(text, /^# TYPE mesh_service_request_duration_seconds summary$/m);
  // Every family has HELP and TYPE; no counter-like suffix on a gauge.
  for (const name of new Set(parsePrometheusText(text).map((x) => x.name.replace(/_(sum|count)$/, '')))) {
    assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'));
    assert.match(text, new RegExp(`^# TYPE ${name} (gauge|summary)$`, 'm'));
    assert.ok(!name.endsWith('_total'), name);
  }
  // Prometheus' own linter, where installed (the Prometheus integration test runs it on a live controller too).
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (!lint.error) assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
});
