// The strict HTTP/1.1 request parser of the proxy's own server: framing
// (Content-Length, chunked, none), keep-alive, Upgrade and Expect, input split
// at every byte, and every ambiguous request refused with an HPE_* code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H1RequestParser, type RequestHeadInfo } from '../../../src/proxy/http/h1-request-parser.ts';
import { ParseError } from '../../../src/proxy/http/h1-message-parser.ts';

interface Parsed {
  method?: string;
  url?: string;
  raw?: string[];
  info?: RequestHeadInfo;
  body: string;
  ended: boolean;
  trailers?: string[];
  keepAlive: boolean;
  used: number;
}

function parse(input: string, step = input.length): Parsed {
  const out: Parsed = { body: '', ended: false, keepAlive: false, used: 0 };
  const p = new H1RequestParser({
    onRequest(method, url, raw, info) {
      assert.equal(out.method, undefined, 'one head only');
      Object.assign(out, { method, url, raw, info });
    },
    onBody(chunk) {
      out.body += chunk.toString('latin1');
    },
    onEnd(trailers) {
      assert.ok(!out.ended, 'one end only');
      out.ended = true;
      out.trailers = trailers;
    },
  });
  p.reset();
  const bytes = Buffer.from(input, 'latin1');
  for (let off = 0; off < bytes.length && !p.complete; off += step) {
    const piece = bytes.subarray(off, Math.min(off + step, bytes.length));
    const n = p.execute(piece);
    out.used = off + n;
    if (n < piece.length) break;
  }
  out.keepAlive = p.keepAlive;
  return out;
}

function refused(input: string, code: RegExp): void {
  assert.throws(() => parse(input), (e: unknown) => e instanceof ParseError && code.test(e.code));
}

test('a GET: method, target, raw headers in order and case; no body; keep-alive by default', () => {
  for (const step of [1, 3, 1000]) {
    const r = parse('GET /a?b=1 HTTP/1.1\r\nHost: app\r\nX-Case: Kept\r\n\r\nGET /next', step);
    assert.equal(r.method, 'GET');
    assert.equal(r.url, '/a?b=1');
    assert.deepEqual(r.raw, ['Host', 'app', 'X-Case', 'Kept']);
    assert.equal(r.info!.hasBody, false);
    assert.equal(r.ended, true);
    assert.equal(r.keepAlive, true);
    assert.equal(r.used, 'GET /a?b=1 HTTP/1.1\r\nHost: app\r\nX-Case: Kept\r\n\r\n'.length, 'the next request is left');
  }
});

test('Content-Length and chunked bodies (with trailers), split at every byte', () => {
  const cl = parse('POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET', 1);
  assert.equal(cl.body, 'hello');
  assert.equal(cl.ended, true);
  const ch = parse('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-T: 1\r\n\r\n', 1);
  assert.equal(ch.body, 'abcde');
  assert.deepEqual(ch.trailers, ['X-T', '1']);
  assert.equal(ch.info!.hasBody, true);
});

test('keep-alive: HTTP/1.0 closes unless asked; Connection: close closes', () => {
  assert.equal(parse('GET / HTTP/1.0\r\n\r\n').keepAlive, false);
  assert.equal(parse('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').keepAlive, true);
  assert.equal(parse('GET / HTTP/1.1\r\nConnection: Keep-Alive, close\r\n\r\n').keepAlive, false);
});

test('Upgrade needs Connection: upgrade; Expect: 100-continue is seen on HTTP/1.1 only', () => {
  assert.equal(parse('GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n').info!.upgrade, true);
  assert.equal(parse('GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n').info!.upgrade, false);
  assert.equal(parse('PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n').info!.expectContinue, true);
  assert.equal(parse('PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n').info!.expectContinue, false);
});

test('ambiguous framing and malformed heads are refused', () => {
  refused('POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', /HPE_UNEXPECTED_CONTENT_LENGTH/);
  refused('POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', /HPE_UNEXPECTED_CONTENT_LENGTH/);
  refused('POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n', /HPE_INVALID_CONTENT_LENGTH/);
  refused('POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', /HPE_INVALID_TRANSFER_ENCODING/);
  refused('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', /HPE_INVALID_TRANSFER_ENCODING/);
  refused('GET /a b HTTP/1.1\r\n\r\n', /HPE_INVALID_METHOD/);
  refused('GET / HTTP/2.0\r\n\r\n', /HPE_INVALID_METHOD/);
  refused('GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n', /HPE_INVALID_HEADER_TOKEN/);
  refused('GET / HTTP/1.1\r\nX : a\r\n\r\n', /HPE_INVALID_HEADER_TOKEN/);
  refused('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /HPE_INVALID_CHUNK_SIZE/);
});
