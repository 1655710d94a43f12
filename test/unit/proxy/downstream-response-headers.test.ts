// Response headers toward the client: hop-by-hop and Connection-named headers
// dropped whatever their case, other names kept in the upstream's case and order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { responseHeadersH1, responseHeadersH1FromObject } from '../../../src/proxy/http/downstream-response-headers.ts';

const raw = (...pairs: string[]): Buffer[] => pairs.map((s) => Buffer.from(s, 'latin1'));

test('HTTP/1 client: case and order kept, hop-by-hop dropped in any case, values decoded as latin1', () => {
  const out = responseHeadersH1(
    raw('Content-Type', 'text/plain', 'Keep-Alive', 'timeout=5', 'X-Custom', 'caf\u00e9', 'TRANSFER-ENCODING', 'chunked', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Connection', 'keep-alive'),
    'keep-alive',
  );
  assert.deepEqual(out, ['Content-Type', 'text/plain', 'X-Custom', 'caf\u00e9', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
});

test('HTTP/1 client: names listed in Connection are dropped too, of any length', () => {
  const out = responseHeadersH1(raw('X-Trace-Hop', '1', 'Connection', 'X-Trace-Hop, close', 'X-Kept', 'y'), 'X-Trace-Hop, close');
  assert.deepEqual(out, ['X-Kept', 'y']);
});

test('HTTP/1 client from an HTTP/2 upstream object: flat list, arrays expanded', () => {
  const out = responseHeadersH1FromObject({ ':status': 200, 'set-cookie': ['a=1', 'b=2'], 'keep-alive': 'x', 'grpc-status': '0' });
  assert.deepEqual(out, ['set-cookie', 'a=1', 'set-cookie', 'b=2', 'grpc-status', '0']);
});
