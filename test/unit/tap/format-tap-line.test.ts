// What a person reads in `meshctl tap`: one line per request, fixed order,
// coloured only when colour is on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTapLine, formatTapNotice } from '../../../src/cli/tap/format-tap-line.ts';
import { createPalette } from '../../../src/cli/ui/palette.ts';
import type { TapRequest } from '../../../src/shared/api.ts';

const plain = createPalette({ env: { NO_COLOR: '1' } });
const colour = createPalette({ env: { FORCE_COLOR: '1' } });
const req = (over: Partial<TapRequest> = {}): TapRequest => ({
  type: 'request', time: '2026-11-22T07:47:28.123Z', proxy: 'order-mesh-1', service: 'order', direction: 'inbound', source: 'web', destination: 'order',
  method: 'POST', path: '/buy', status: 200, latencyMs: 12.34, attempts: 1, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', ...over,
});

test('a plain request line: time (UTC), direction, source → destination, method, path, status, latency, trace', () => {
  assert.equal(formatTapLine(req(), plain), '07:47:28.123 in  web → order POST /buy 200 12ms trace=4bf92f3577b34da6a3ce929d0e0e4736');
});

test('attempts, the error reason and the proxy appear only when they say something', () => {
  const r = req({ direction: 'outbound', source: 'order', destination: 'payment', status: 503, latencyMs: 2.5, attempts: 3, error: 'upstream-connect-failure payment 10.0.0.9:80 ECONNREFUSED', traceId: undefined });
  assert.equal(formatTapLine(r, plain), '07:47:28.123 out order → payment POST /buy 503 2.5ms attempts=3 error=upstream-connect-failure');
  assert.equal(formatTapLine(req(), plain, { showProxy: true }), '07:47:28.123 in  web → order POST /buy 200 12ms trace=4bf92f3577b34da6a3ce929d0e0e4736 via order-mesh-1');
});

test('status colours by class when colour is on, none with NO_COLOR', () => {
  assert.ok(formatTapLine(req({ status: 503 }), colour).includes('\x1b[31m503\x1b[39m'));
  assert.ok(formatTapLine(req({ status: 404 }), colour).includes('\x1b[33m404\x1b[39m'));
  assert.ok(formatTapLine(req({ status: 200 }), colour).includes('\x1b[32m200\x1b[39m'));
  assert.ok(!formatTapLine(req({ status: 503 }), plain).includes('\x1b['));
});

test('notices say what happened and what the tool does next', () => {
  assert.equal(formatTapNotice({ type: 'dropped', count: 12, proxy: 'order-mesh-1' }), '12 requests not shown: this reader fell behind (lines dropped at order-mesh-1)');
  assert.equal(formatTapNotice({ type: 'dropped', count: 1 }), '1 request not shown: this reader fell behind (lines dropped at the controller)');
  assert.equal(formatTapNotice({ type: 'tapping', service: 'order', proxies: ['a', 'b'] }), 'tapping order through 2 sidecars (a, b); Ctrl-C to stop');
  assert.equal(formatTapNotice({ type: 'tapping', service: 'order', proxies: [] }), 'tapping order: none of its sidecars is connected to the controller yet; waiting');
  assert.equal(formatTapNotice({ type: 'proxy-error', proxy: 'a', error: 'ECONNREFUSED' }), 'sidecar a: ECONNREFUSED; trying again');
  assert.equal(formatTapNotice(req()), undefined);
});
