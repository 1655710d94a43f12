import { test } from 'node:test';
import assert from 'node:assert/strict';
import { traceContext } from '../../../src/proxy/telemetry/trace-context.ts';
import { parseHostPort } from '../../../src/proxy/run-proxy.ts';

test('trace context: keep a valid traceparent, derive one from B3, start one otherwise', () => {
  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  assert.deepEqual(traceContext(tp, undefined, undefined, undefined, undefined), { add: undefined, traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
  assert.equal(traceContext(undefined, undefined, undefined, undefined, '80f198ee56343ba8-e457b5a2e4d86bd1-0').add, '00-000000000000000080f198ee56343ba8-e457b5a2e4d86bd1-00');
  const fresh = traceContext('garbage', undefined, undefined, undefined, undefined);
  assert.match(fresh.add!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(fresh.add!.slice(3, 35), fresh.traceId);
});

test('parseHostPort accepts host:port, [v6]:port and :port', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:15000'), { host: '127.0.0.1', port: 15000 });
  assert.deepEqual(parseHostPort('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseHostPort(':9'), { host: '0.0.0.0', port: 9 });
  assert.throws(() => parseHostPort('nope'), /host:port/);
});
