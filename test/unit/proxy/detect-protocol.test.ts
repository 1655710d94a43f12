import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify } from '../../../src/proxy/listeners/detect-protocol.ts';

test('classify: HTTP/1 method tokens, the HTTP/2 preface, and anything else', () => {
  assert.equal(classify(Buffer.from('GET / HTTP/1.1\r\n')), 'http1');
  assert.equal(classify(Buffer.from('PROPFIND /x HTTP/1.1\r\n')), 'http1');
  assert.equal(classify(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), 'http2');
  assert.equal(classify(Buffer.from('PRI * HTTP/2.0\r\n')), 'more', 'a partial preface waits for more bytes');
  assert.equal(classify(Buffer.from('GE')), 'more');
  assert.equal(classify(Buffer.from([0x16, 0x03, 0x01])), 'tcp', 'TLS ClientHello');
  assert.equal(classify(Buffer.from('*3\r\n$3\r\nSET\r\n')), 'tcp', 'Redis RESP');
  assert.equal(classify(Buffer.from(' GET')), 'tcp');
  assert.equal(classify(Buffer.from('A'.repeat(40))), 'tcp', 'no space within a method-sized token');
});
