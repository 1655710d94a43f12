// The exporter's queue is bounded: while an export hangs, spans beyond the
// bound are dropped and counted, and the request path never waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanExporter, tracesUrl } from '../../../src/proxy/telemetry/span-exporter.ts';
import { MetricsRegistry } from '../../../src/proxy/telemetry/metrics-registry.ts';
import { encodeSpans, resourceAttributes, type SpanRecord } from '../../../src/proxy/telemetry/otlp-json.ts';
import { eventually } from '../../harness/eventually.ts';
import { closedPort } from '../../harness/upstream-servers.ts';

const span = (i: number): SpanRecord => ({
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: i.toString(16).padStart(16, '0'), parentSpanId: undefined, inbound: true, listener: 'in:80',
  method: 'POST', path: '/buy', route: 'in:order:80:default', authority: 'order', status: 503, protocol: 'HTTP/1.1', source: 'web', destination: 'order',
  upstream: '10.0.0.2:80', attempts: 2, error: 'upstream-connect-failure order 10.0.0.2:80 ECONNREFUSED', peerIdentity: undefined, startMs: 1_700_000_000_123, durationNs: 2_500_000,
});

test('tracesUrl: a bare collector address gets /v1/traces, a full URL is kept', () => {
  assert.equal(tracesUrl('http://jaeger:4318').href, 'http://jaeger:4318/v1/traces');
  assert.equal(tracesUrl('https://otel.example/custom/traces').href, 'https://otel.example/custom/traces');
});

test('OTLP JSON: hex ids, nanosecond strings, kind, attributes and error status', () => {
  const doc = JSON.parse(encodeSpans(resourceAttributes({ service: 'order', project: 'shop', id: 'abc' }), [span(1)]));
  const rs = doc.resourceSpans[0];
  assert.deepEqual(rs.resource.attributes.find((a: { key: string }) => a.key === 'service.name').value, { stringValue: 'order' });
  const s = rs.scopeSpans[0].spans[0];
  assert.equal(s.spanId, '0000000000000001');
  assert.equal(s.parentSpanId, undefined);
  assert.equal(s.kind, 2);
  assert.equal(s.name, 'POST in:order:80:default');
  assert.equal(s.startTimeUnixNano, '1700000000123000000');
  assert.equal(s.endTimeUnixNano, '1700000000125500000');
  assert.deepEqual(s.status, { code: 2, message: 'upstream-connect-failure order 10.0.0.2:80 ECONNREFUSED' });
  const a = Object.fromEntries(s.attributes.map((x: { key: string; value: Record<string, unknown> }) => [x.key, Object.values(x.value)[0]]));
  assert.equal(a['http.response.status_code'], '503');
  assert.equal(a['mesh.attempts'], '2');
  assert.equal(a['error.type'], 'upstream-connect-failure');
});

test('a hung OTLP endpoint: one export in flight, the queue stays at its bound, the rest is dropped and counted', async (t) => {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    held.push(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => {
    for (const res of held) res.destroy();
    server.close(() => r());
  }));
  const metrics = new MetricsRegistry();
  const ex = new SpanExporter(metrics, { maxQueue: 10, batchSize: 4, delayMs: 5 });
  t.after(() => ex.close());
  ex.configure({ otlpEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, { service: 'order', project: 'shop' });
  for (let i = 0; i < 4; i++) ex.record(span(i));
  await eventually(() => assert.equal(held.length, 1)); // the first batch is out, unanswered
  for (let i = 4; i < 30; i++) ex.record(span(i));
  assert.equal(ex.stats.spans_dropped_total.with('queue_full').value, 16, '10 wait, 16 are dropped');
  // The endpoint answers: the waiting spans go out, two more batches at most four each.
  held.shift()!.writeHead(200).end('{}');
  await eventually(() => {
    for (const r of held.splice(0)) r.writeHead(200).end('{}');
    assert.equal(ex.stats.spans_exported_total.with().value, 14);
  });
  assert.equal(ex.stats.span_exports_total.with('ok').value, 4);
});

test('no endpoint configured: spans are not kept at all', () => {
  const ex = new SpanExporter(new MetricsRegistry());
  ex.configure({}, { service: 'order', project: 'shop' });
  ex.record(span(1));
  assert.equal(ex.stats.spans_dropped_total.total(), 0);
  ex.close();
});

test('a failing endpoint is logged when it starts failing and when it recovers, not per batch', async (t) => {
  const ex = new SpanExporter(new MetricsRegistry(), { batchSize: 1, delayMs: 1 });
  t.after(() => ex.close());
  const logs: Record<string, unknown>[] = [];
  ex.log = (f) => logs.push(f);
  ex.configure({ otlpEndpoint: `http://127.0.0.1:${await closedPort()}` }, { service: 'order', project: 'shop' });
  for (let i = 0; i < 3; i++) {
    ex.record(span(i));
    await eventually(() => assert.equal(ex.stats.span_exports_total.with('failed').value, i + 1));
  }
  assert.deepEqual(logs.map((l) => [l.msg, l.error]), [['span export failing; spans are dropped and counted in mesh_spans_dropped_total', 'ECONNREFUSED']]);
  const server = createServer((req, res) => req.resume().on('end', () => res.end('{}')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  ex.configure({ otlpEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, { service: 'order', project: 'shop' });
  ex.record(span(9));
  await eventually(() => assert.equal(ex.stats.spans_exported_total.with().value, 1));
  assert.equal(logs.length, 2);
  assert.equal(logs[1]!.msg, 'span export works again');
});
