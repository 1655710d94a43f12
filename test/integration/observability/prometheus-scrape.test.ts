// A real Prometheus scrapes two real proxies (web → product over mTLS) and the
// controller; PromQL over its HTTP API must give the success rate and p99 the
// load generator measured. Proof that the metrics follow Prometheus'
// conventions (counters, cumulative histogram buckets in seconds), not only
// that they parse. promtool lints every /metrics body too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../harness/eventually.ts';
import { startWebProductMesh } from '../../harness/web-product-mesh.ts';
import { hasPrometheus, promtoolCheckMetrics, startPrometheus } from '../../harness/prometheus-process.ts';
import { dashboardQueries, expandVariables } from '../../harness/dashboard-queries.ts';
import { LATENCY_BUCKETS_SECONDS } from '../../../src/proxy/telemetry/proxy-stats.ts';

// In CI a missing prometheus fails the run (the spawn fails) instead of skipping.
const skip = !process.env.CI && !hasPrometheus() && 'prometheus is not installed (apt-get install prometheus)';

const N = 200;
// Deterministic load: every 20th request fails (503 from the app), every 50th waits SLOW_MS.
const pathOf = (i: number) => (i % 20 === 0 ? '/fail' : i % 50 === 25 ? '/slow' : '/');
// 2 % of requests are slow, so the p99 falls among them: at least SLOW_MS at every layer.
const SLOW_MS = 150;

/** The histogram bucket (lower, upper] a latency in seconds falls into. */
function bucketOf(seconds: number): [number, number] {
  let lower = 0;
  for (const le of LATENCY_BUCKETS_SECONDS) {
    if (seconds <= le) return [lower, le];
    lower = le;
  }
  return [lower, Infinity];
}

test('Prometheus scraping the mesh answers PromQL with the figures the load generator measured', { skip, timeout: 60_000 }, async (t) => {
  const mesh = await startWebProductMesh(t, { slowMs: SLOW_MS });
  const proxies = mesh.ctl.core.hub.adminTargets();
  assert.equal(proxies.length, 2);
  // The sidecars come from the controller's http_sd endpoint, as under `meshctl up --observability`.
  const prom = await startPrometheus(t, { proxies: { httpSd: `${mesh.url}/v1/metrics/targets` }, controller: [mesh.url] }, { scrapeInterval: '1s' });

  // The load: N requests, 4 at a time, each timed by the client.
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < N) {
        const i = next++;
        const start = process.hrtime.bigint();
        const status = await mesh.get(pathOf(i));
        latencies.push(Number(process.hrtime.bigint() - start) / 1e9);
        if (status >= 500) failed++;
      }
    }),
  );
  assert.equal(failed, N / 20);
  latencies.sort((a, b) => a - b);
  const clientP99 = latencies[Math.ceil(0.99 * N) - 1]!;
  const clientSuccess = (N - failed) / N;

  const product = 'direction="inbound",destination_service="product"';
  const edge = 'direction="outbound",source_service="web",destination_service="product"';
  const one = async (q: string) => {
    const r = await prom.query(q);
    assert.equal(r.length, 1, `${q}: ${JSON.stringify(r)}`);
    return Number(r[0]!.value[1]);
  };
  // Wait until Prometheus has scraped both proxies after the last request.
  await eventually(
    async () => {
      assert.equal(await one(`sum(mesh_requests_total{${product}})`), N);
      assert.equal(await one(`sum(mesh_requests_total{${edge}})`), N);
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  );

  // Every target up, and nothing Prometheus' parser or promtool's linter objects to.
  await eventually(
    async () => {
      const targets = await prom.targets();
      assert.deepEqual(targets.map((x) => x.job).sort(), ['controller', 'proxies', 'proxies']);
      assert.deepEqual(targets.map((x) => x.instance).sort(), [...proxies.map((p) => new URL(p.url).host), new URL(mesh.url).host].sort());
      for (const x of targets) assert.deepEqual([x.health, x.lastError], ['up', ''], `${x.job} ${x.instance}: ${x.lastError}`);
      const labelled = targets.filter((x) => x.job === 'proxies').map((x) => x.labels.mesh_service).sort();
      assert.deepEqual(labelled, ['product', 'web']);
    },
    { timeoutMs: 10_000, intervalMs: 250 },
  );
  for (const u of [...proxies.map((p) => p.url), mesh.url]) {
    const lint = promtoolCheckMetrics(await (await fetch(`${u}/metrics`)).text());
    assert.ok(lint.ok, `promtool check metrics ${u}/metrics:\n${lint.output}`);
  }

  for (const sel of [product, edge]) {
    // Success rate: exact, the fault is deterministic.
    const success = await one(`sum(mesh_requests_total{${sel},response_class!="5xx"}) / sum(mesh_requests_total{${sel}})`);
    assert.equal(success, clientSuccess, sel);
    // p99 from the cumulative buckets, within the histogram's resolution of what the client measured: the
    // sidecars time a part of what the client times (same bucket on an idle machine, never a higher one), and
    // every layer waits the app's SLOW_MS (so never below that delay's bucket).
    const p99 = await one(`histogram_quantile(0.99, sum by (le) (mesh_request_duration_seconds_bucket{${sel}}))`);
    const why = `${sel}: PromQL p99 ${p99}s, client p99 ${clientP99}s`;
    assert.ok(p99 <= bucketOf(clientP99)[1], why);
    assert.ok(p99 >= bucketOf(SLOW_MS / 1000)[0], why);
    // The form dashboards use (rate over a window) answers on these series too (once two samples exist).
    await eventually(async () => assert.ok((await one(`sum(rate(mesh_requests_total{${sel}}[1m]))`)) >= 0), { timeoutMs: 10_000, intervalMs: 250 });
  }
  // The sidecars say the edge is mTLS, and the controller's own endpoint carries its view.
  assert.equal(await one(`sum(mesh_requests_total{${edge},tls="true"})`), N);
  assert.equal(await one('mesh_controller_proxies{job="controller",state="in_sync"}'), 2);
  await eventually(async () => assert.equal(await one('mesh_edge_mtls{source_service="web",destination_service="product"}'), 1), { timeoutMs: 10_000, intervalMs: 250 });
  await eventually(async () => assert.equal(await one('mesh_service_request_duration_seconds_count{service="product"}'), N), { timeoutMs: 10_000, intervalMs: 250 });
  // Every query of the Grafana dashboard is valid PromQL for this Prometheus (variables as Grafana fills them).
  for (const q of dashboardQueries()) await prom.query(expandVariables(q.expr));
  // And the golden ones answer with data for product.
  const served = await prom.query(expandVariables(dashboardQueries().find((q) => q.panel === 'Request rate')!.expr));
  assert.ok(served.some((r) => r.metric.destination_service === 'product'), JSON.stringify(served));
});
