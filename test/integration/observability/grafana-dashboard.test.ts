// The Grafana dashboard in observability/grafana/ reads only metrics the mesh
// really exports: every metric name (and matcher label) in its PromQL is
// checked against the /metrics of two real proxies and the controller. Its
// provisioning files point at the datasource uid the panels use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startWebProductMesh } from '../../harness/web-product-mesh.ts';
import { DASHBOARD_FILE, dashboardQueries, selectorsOf } from '../../harness/dashboard-queries.ts';
import { parsePrometheusText } from '../../../src/controller/metrics/prometheus-text.ts';

const PROVISIONING = join(import.meta.dirname, '../../../observability/grafana/provisioning');

/** Sample names a /metrics body can carry: its samples, and every declared family (with histogram/summary suffixes). */
function exported(text: string): { names: Set<string>; labels: Map<string, Set<string>> } {
  const names = new Set<string>();
  const labels = new Map<string, Set<string>>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  for (const s of parsePrometheusText(text)) {
    names.add(s.name);
    const set = labels.get(s.name) ?? new Set<string>();
    for (const k of Object.keys(s.labels)) set.add(k);
    labels.set(s.name, set);
  }
  return { names, labels };
}

test('the Grafana dashboard only queries metric names and labels a real proxy or the controller exports', async (t) => {
  const mesh = await startWebProductMesh(t);
  for (const path of ['/', '/fail', '/']) await mesh.get(path);
  const texts = await Promise.all([...mesh.ctl.core.hub.adminTargets().map((p) => p.url), mesh.url].map(async (u) => (await fetch(`${u}/metrics`)).text()));
  const { names, labels } = exported(texts.join('\n'));
  assert.ok(names.has('mesh_requests_total') && names.has('mesh_controller_proxies'), 'both kinds of target were read');

  const queries = dashboardQueries();
  assert.ok(queries.length >= 12, `${queries.length} queries`);
  const panels = new Set(queries.map((q) => q.panel));
  for (const golden of ['Request rate', 'Success rate', 'Latency p50 / p95 / p99', 'Request rate per edge', 'Success rate per edge', 'Latency per edge p50 / p95 / p99', 'TCP bytes per edge']) {
    assert.ok(panels.has(golden), `panel "${golden}"`);
  }
  for (const q of queries) {
    const sels = selectorsOf(q.expr);
    assert.ok(sels.length > 0, `${q.panel}: no metric in ${q.expr}`);
    for (const s of sels) {
      assert.ok(names.has(s.metric), `${q.panel}: ${s.metric} is not exported (${q.expr})`);
      // Where the metric has samples, each matcher's label must be one it carries.
      const known = labels.get(s.metric);
      if (known) for (const l of s.labels) assert.ok(known.has(l), `${q.panel}: ${s.metric} has no label ${l} (${[...known].join(', ')})`);
    }
  }
  // p50/p95/p99 for services and edges.
  for (const qv of ['0.5', '0.95', '0.99']) assert.equal(queries.filter((q) => q.expr.startsWith(`histogram_quantile(${qv},`)).length, 2, qv);
});

test('the provisioning files point Grafana at the datasource uid the panels use and at the dashboard folder', () => {
  const dash = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));
  const uids = new Set<string>();
  const walk = (x: unknown) => {
    if (Array.isArray(x)) return x.forEach(walk);
    if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      if (o.datasource && typeof o.datasource === 'object') uids.add((o.datasource as { uid: string }).uid);
      Object.values(o).forEach(walk);
    }
  };
  walk(dash);
  const ds = parse(readFileSync(join(PROVISIONING, 'datasources/mesh-prometheus.yaml'), 'utf8'));
  assert.deepEqual([...uids], [ds.datasources[0].uid]);
  assert.equal(ds.datasources[0].type, 'prometheus');
  assert.equal(ds.datasources[0].url, 'http://mesh-prometheus:9090');
  const boards = parse(readFileSync(join(PROVISIONING, 'dashboards/mesh.yaml'), 'utf8'));
  assert.equal(boards.providers[0].options.path, '/var/lib/grafana/dashboards/mesh');
  assert.equal(dash.uid, 'meshctl-golden');
});
