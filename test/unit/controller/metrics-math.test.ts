import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrometheusText } from '../../../src/controller/metrics/prometheus-text.ts';
import { quantile } from '../../../src/controller/metrics/metrics-scraper.ts';

test('Prometheus text: names, labels with escapes, +Inf, comments skipped', () => {
  const s = parsePrometheusText(
    [
      '# HELP mesh_requests_total x',
      '# TYPE mesh_requests_total counter',
      'mesh_requests_total{direction="inbound",route="a\\"b",status_code="200"} 12',
      'mesh_request_duration_seconds_bucket{le="+Inf"} 3',
      'mesh_snapshot_version 4',
      'garbage line',
    ].join('\n'),
  );
  assert.deepEqual(s, [
    { name: 'mesh_requests_total', labels: { direction: 'inbound', route: 'a"b', status_code: '200' }, value: 12 },
    { name: 'mesh_request_duration_seconds_bucket', labels: { le: '+Inf' }, value: 3 },
    { name: 'mesh_snapshot_version', labels: {}, value: 4 },
  ]);
});

test('quantiles interpolate inside cumulative buckets, in milliseconds', () => {
  // 100 requests: 50 under 10 ms, 40 between 10 and 100 ms, 10 between 100 ms and 1 s.
  const b = new Map([[0.01, 50], [0.1, 90], [1, 100], [Infinity, 100]]);
  assert.equal(quantile(b, 0.5), 10);
  assert.equal(quantile(b, 0.9), 100);
  assert.equal(quantile(b, 0.95), 550);
  assert.equal(quantile(new Map(), 0.5), null);
});
