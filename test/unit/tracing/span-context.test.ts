import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hopDecision } from '../../../src/proxy/telemetry/span-context.ts';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const P = '00f067aa0ba902b7';

test('a sampled traceparent: this hop is its child and the request leaves with this hop\'s id', () => {
  const d = hopDecision({ traceparent: `00-${T}-${P}-01` }, 0);
  assert.equal(d.traceId, T);
  assert.equal(d.span!.parentSpanId, P);
  assert.match(d.span!.spanId, /^[0-9a-f]{16}$/);
  assert.notEqual(d.span!.spanId, P);
  assert.equal(d.traceparent, `00-${T}-${d.span!.spanId}-01`);
  assert.equal(d.replace, true);
});

test('an unsampled traceparent is passed on unchanged and records nothing, whatever the rate', () => {
  assert.deepEqual(hopDecision({ traceparent: `00-${T}-${P}-00` }, 1), { traceId: T, span: undefined, traceparent: undefined, replace: false });
});

test('B3: same trace id (64-bit ids padded), parent = its span id, carried on as a traceparent', () => {
  const d = hopDecision({ 'x-b3-traceid': '463ac35c9f6413ad', 'x-b3-spanid': P, 'x-b3-sampled': '1' }, 0);
  assert.equal(d.traceId, '0000000000000000463ac35c9f6413ad');
  assert.equal(d.span!.parentSpanId, P);
  assert.equal(d.traceparent, `00-${d.traceId}-${d.span!.spanId}-01`);
  assert.equal(d.replace, false);
  const single = hopDecision({ b3: `${T}-${P}-0` }, 1);
  assert.equal(single.span, undefined);
  assert.equal(single.traceparent, `00-${T}-${P}-00`);
});

test('no trace context: a new trace, a root span sampled at the configured rate', () => {
  const kept = hopDecision({}, 0.5, () => 0.2);
  assert.equal(kept.span!.parentSpanId, undefined);
  assert.equal(kept.traceparent, `00-${kept.traceId}-${kept.span!.spanId}-01`);
  const skipped = hopDecision({}, 0.5, () => 0.7);
  assert.equal(skipped.span, undefined);
  assert.match(skipped.traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  assert.equal(hopDecision({}, 0).span, undefined);
});

test('a malformed traceparent is replaced, not sent twice', () => {
  const d = hopDecision({ traceparent: 'garbage' }, 1);
  assert.equal(d.replace, true);
  assert.equal(d.span!.parentSpanId, undefined);
});
