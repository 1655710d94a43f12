import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRegistry } from '../../../src/proxy/telemetry/metrics-registry.ts';

test('renders counters, gauges and cumulative histograms in Prometheus text format', () => {
  const r = new MetricsRegistry();
  const f = r.register('mesh', {
    hits_total: { type: 'counter', help: 'Hits.', labels: ['route'] },
    open: { type: 'gauge', help: 'Open.', labels: [] },
    latency_seconds: { type: 'histogram', help: 'Latency.', labels: ['route'], buckets: [0.1, 1] },
  });
  f.hits_total.with('a"b').inc(2);
  f.open.with().set(3);
  const h = f.latency_seconds.with('r');
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const text = r.render();
  assert.match(text, /^# TYPE mesh_hits_total counter$/m);
  assert.match(text, /^mesh_hits_total\{route="a\\"b"\} 2$/m);
  assert.match(text, /^mesh_open 3$/m);
  assert.match(text, /^mesh_latency_seconds_bucket\{route="r",le="0.1"\} 1$/m);
  assert.match(text, /^mesh_latency_seconds_bucket\{route="r",le="1"\} 2$/m);
  assert.match(text, /^mesh_latency_seconds_bucket\{route="r",le="\+Inf"\} 3$/m);
  assert.match(text, /^mesh_latency_seconds_sum\{route="r"\} 5.55$/m);
  assert.match(text, /^mesh_latency_seconds_count\{route="r"\} 3$/m);
  assert.equal(f.hits_total.with('a"b'), f.hits_total.with('a"b'), 'series are cached');
});

test('HELP text escapes backslash and newline, as the text format requires', () => {
  const r = new MetricsRegistry();
  r.register('mesh', { odd_total: { type: 'counter', help: 'a \\ b\nc', labels: [] } });
  assert.match(r.render(), /^# HELP mesh_odd_total a \\\\ b\\nc$/m);
});
