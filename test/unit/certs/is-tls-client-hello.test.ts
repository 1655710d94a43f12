// Permissive mode tells TLS from plaintext by the first bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTlsClientHello } from '../../../src/proxy/identity/is-tls-client-hello.ts';

test('a TLS ClientHello is told apart from plaintext by its first bytes', () => {
  assert.equal(isTlsClientHello(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])), true);
  assert.equal(isTlsClientHello(Buffer.from('GET / HTTP/1.1\r\n')), false);
  assert.equal(isTlsClientHello(Buffer.from('PRI * HTTP/2.0\r\n')), false);
  assert.equal(isTlsClientHello(Buffer.from([0x16])), undefined);
  assert.equal(isTlsClientHello(Buffer.alloc(0)), undefined);
  assert.equal(isTlsClientHello(Buffer.from([0x16, 0x07, 0x00])), false);
});
