// The per-version breakdown of the metrics aggregate, from synthetic
// Prometheus text shaped like the proxies' (destination_version label).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsScraper } from '../../../src/controller/metrics/metrics-scraper.ts';
import { MetricsResponse } from '../../../src/shared/api.ts';

type Series = { dir: string; version?: string; code: number; n: number; le: Record<string, number> };

function text(series: Series[]): string {
  const lines: string[] = [];
  for (const s of series) {
    const cls = `${Math.floor(s.code / 100)}xx`;
    const v = s.version ? `,destination_version="${s.version}"` : '';
    const base = `direction="${s.dir}",listener="in:8080",source_service="web",destination_service="shop",route="in:shop:8080:default",response_class="${cls}",status_code="${s.code}"${v}`;
    lines.push(`mesh_requests_total{${base}} ${s.n}`);
    for (const [le, c] of Object.entries(s.le)) lines.push(`mesh_request_duration_seconds_bucket{${base},le="${le}"} ${c}`);
    lines.push(`mesh_request_duration_seconds_count{${base}} ${s.n}`);
  }
  return lines.join('\n') + '\n';
}

test('inbound requests are broken down per destination_version, as rates and as cumulative totals', () => {
  const m = new MetricsScraper(() => []);
  assert.equal(m.versionTotals('shop'), undefined, 'nothing scraped yet');
  const at = 1_000_000;
  m.ingest('shop-mesh', 'shop', text([
    { dir: 'inbound', version: 'v1', code: 200, n: 100, le: { '0.01': 100, '+Inf': 100 } },
    { dir: 'inbound', version: 'v2', code: 200, n: 10, le: { '0.01': 10, '+Inf': 10 } },
  ]), at);
  m.ingest('shop-mesh', 'shop', text([
    { dir: 'inbound', version: 'v1', code: 200, n: 190, le: { '0.01': 190, '+Inf': 190 } },
    { dir: 'inbound', version: 'v2', code: 200, n: 18, le: { '0.01': 10, '0.5': 18, '+Inf': 18 } },
    { dir: 'inbound', version: 'v2', code: 503, n: 2, le: { '0.01': 2, '+Inf': 2 } },
    // The caller's outbound side must not double the counts.
    { dir: 'outbound', version: 'v2', code: 200, n: 500, le: { '+Inf': 500 } },
  ]), at + 2000);

  const agg = MetricsResponse.parse(m.aggregate());
  const v1 = agg.versions!.find((v) => v.service === 'shop' && v.version === 'v1')!;
  const v2 = agg.versions!.find((v) => v.service === 'shop' && v.version === 'v2')!;
  assert.equal(v1.rps, 45); // 90 requests in 2 s
  assert.equal(v1.successRate, 1);
  assert.equal(v2.rps, 5); // (8 + 2) in 2 s
  assert.equal(v2.successRate, 0.8);
  assert.ok(v2.p99Ms! > 10, `the slow requests of v2 show in its p99: ${v2.p99Ms}`);
  assert.equal(agg.versions!.length, 2);

  const totals = m.versionTotals('shop')!;
  assert.equal(totals.v1!.requests, 190);
  assert.equal(totals.v2!.requests, 20);
  assert.equal(totals.v2!.errors, 2);
  assert.deepEqual(totals.v2!.buckets, [[0.01, 12], [0.5, 18], [null, 20]]);
  assert.deepEqual(m.versionTotals('web'), undefined);
});

test('series without destination_version stay out of the breakdown', () => {
  const m = new MetricsScraper(() => []);
  m.ingest('shop-mesh', 'shop', text([{ dir: 'inbound', code: 200, n: 1, le: { '+Inf': 1 } }]), 1);
  m.ingest('shop-mesh', 'shop', text([{ dir: 'inbound', code: 200, n: 5, le: { '+Inf': 5 } }]), 1001);
  const agg = m.aggregate();
  assert.deepEqual(agg.versions, []);
  assert.equal(agg.services[0]?.rps, 4);
  assert.deepEqual(m.versionTotals('shop'), {});
});
