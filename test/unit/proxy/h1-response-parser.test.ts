// The strict HTTP/1.1 response parser of the upstream client: framing
// (Content-Length, chunked, close-delimited, bodiless), interim responses,
// trailers, keep-alive, input split at every byte, and every malformed or
// ambiguous response refused with an HPE_* code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H1ResponseParser, ParseError, MAX_HEAD_BYTES } from '../../../src/proxy/http/h1-response-parser.ts';

interface Parsed {
  status?: number;
  reason?: string;
  raw?: string[];
  contentLength?: number;
  body: string;
  ended: boolean;
  trailers?: string[];
  keepAlive: boolean;
  used: number;
}

/** Parses `input` (fed in pieces of `step` bytes, default all at once); `head`: the request was HEAD. */
function parse(input: string, o: { step?: number; head?: boolean; close?: boolean } = {}): Parsed {
  const out: Parsed = { body: '', ended: false, keepAlive: false, used: 0 };
  const p = new H1ResponseParser({
    onHead(status, reason, raw, contentLength) {
      assert.equal(out.status, undefined, 'one head only');
      Object.assign(out, { status, reason, raw, contentLength });
    },
    onBody(chunk) {
      assert.ok(!out.ended);
      out.body += chunk.toString('latin1');
    },
    onEnd(trailers) {
      assert.ok(!out.ended, 'one end only');
      out.ended = true;
      out.trailers = trailers;
    },
  });
  p.reset(o.head ?? false);
  const bytes = Buffer.from(input, 'latin1');
  const step = o.step ?? bytes.length;
  for (let i = 0; i < bytes.length; i += step) {
    const piece = bytes.subarray(i, i + step);
    const used = p.execute(piece);
    out.used += used;
    if (used < piece.length) break;
  }
  if (o.close) p.finish();
  out.keepAlive = p.keepAlive;
  return out;
}

function rejects(input: string, code: string, o: { head?: boolean } = {}): void {
  for (const step of [undefined, 1]) {
    assert.throws(
      () => parse(input, { ...o, step }),
      (err: unknown) => err instanceof ParseError && err.code === code,
      `${JSON.stringify(input.slice(0, 60))} (step ${step ?? 'all'}) must fail with ${code}`,
    );
  }
}

const OK = 'HTTP/1.1 200 OK\r\n';

test('Content-Length body, header case and order kept, values trimmed of SP/HTAB only', () => {
  const input = `${OK}Content-Type: text/plain\r\nX-A:  \tv\u00a0 \r\nContent-Length: 5\r\n\r\nhello`;
  for (const step of [undefined, 1, 3, 7]) {
    const r = parse(input, { step });
    assert.equal(r.status, 200);
    assert.equal(r.reason, 'OK');
    assert.deepEqual(r.raw, ['Content-Type', 'text/plain', 'X-A', 'v\u00a0', 'Content-Length', '5']);
    assert.equal(r.contentLength, 5);
    assert.equal(r.body, 'hello');
    assert.ok(r.ended);
    assert.ok(r.keepAlive);
  }
});

test('bytes after a complete response are not consumed', () => {
  const r = parse(`${OK}content-length: 2\r\n\r\nokEXTRA`);
  assert.equal(r.body, 'ok');
  assert.equal(r.used, Buffer.byteLength(`${OK}content-length: 2\r\n\r\nok`));
});

test('chunked body with extensions and trailers, split at every byte', () => {
  const input = `${OK}Transfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Checksum: abc\r\nGrpc-Status: 0\r\n\r\n`;
  for (const step of [undefined, 1, 2, 5]) {
    const r = parse(input, { step });
    assert.equal(r.contentLength, -1);
    assert.equal(r.body, 'hello, world!!!');
    assert.deepEqual(r.trailers, ['X-Checksum', 'abc', 'Grpc-Status', '0']);
    assert.ok(r.ended);
    assert.ok(r.keepAlive);
  }
  const plain = parse(`${OK}transfer-encoding: CHUNKED\r\n\r\n0\r\n\r\n`);
  assert.ok(plain.ended);
  assert.equal(plain.trailers, undefined);
});

test('no length and not chunked: the body runs until the connection closes, which is then not reusable', () => {
  const r = parse(`${OK}content-type: text/plain\r\n\r\nstream of bytes`, { close: true });
  assert.equal(r.body, 'stream of bytes');
  assert.ok(r.ended);
  assert.equal(r.keepAlive, false);
  assert.equal(parse(`${OK}\r\nabc`).ended, false, 'not ended before the close');
});

test('HEAD, 204 and 304 have no body whatever their headers announce', () => {
  const head = parse(`${OK}content-length: 1024\r\n\r\n`, { head: true });
  assert.ok(head.ended);
  assert.equal(head.body, '');
  assert.ok(head.keepAlive);
  assert.equal(head.contentLength, 0);
  const chunkedHead = parse(`${OK}transfer-encoding: chunked\r\n\r\n`, { head: true });
  assert.ok(chunkedHead.ended);
  assert.ok(parse('HTTP/1.1 204 No Content\r\n\r\n').ended);
  const r304 = parse('HTTP/1.1 304 Not Modified\r\netag: "x"\r\n\r\n');
  assert.ok(r304.ended);
  assert.ok(r304.keepAlive);
  // A 204 that announces content may have sent some: its connection is not reused.
  const lying = parse('HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nhello');
  assert.ok(lying.ended);
  assert.equal(lying.keepAlive, false);
});

test('interim 1xx responses are skipped; the final head follows', () => {
  const r = parse(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n${OK}content-length: 2\r\n\r\nok`, { step: 4 });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'ok');
  rejects('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n', 'HPE_INVALID_CONSTANT');
});

test('keep-alive: Connection close, HTTP/1.0 defaults, Keep-Alive timeout hint', () => {
  assert.equal(parse(`${OK}connection: close\r\ncontent-length: 0\r\n\r\n`).keepAlive, false);
  assert.equal(parse(`${OK}Connection: X-Foo, Close\r\ncontent-length: 0\r\n\r\n`).keepAlive, false);
  assert.equal(parse('HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n').keepAlive, false);
  assert.equal(parse('HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n').keepAlive, true);
  const p = new H1ResponseParser({ onHead() {}, onBody() {}, onEnd() {} });
  p.reset(false);
  p.execute(Buffer.from(`${OK}keep-alive: timeout=30, max=100\r\ncontent-length: 0\r\n\r\n`));
  assert.equal(p.keepAliveHintMs, 30_000);
});

test('a status line without a reason phrase is accepted', () => {
  const r = parse('HTTP/1.1 404\r\ncontent-length: 0\r\n\r\n');
  assert.equal(r.status, 404);
  assert.equal(r.reason, '');
});

test('smuggling vectors: Content-Length with Transfer-Encoding, duplicate or malformed Content-Length', () => {
  rejects(`${OK}content-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`, 'HPE_UNEXPECTED_CONTENT_LENGTH');
  rejects(`${OK}transfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n`, 'HPE_UNEXPECTED_CONTENT_LENGTH');
  rejects(`${OK}content-length: 5\r\ncontent-length: 5\r\n\r\nhello`, 'HPE_UNEXPECTED_CONTENT_LENGTH');
  rejects(`${OK}content-length: 5\r\ncontent-length: 40\r\n\r\nhello`, 'HPE_UNEXPECTED_CONTENT_LENGTH');
  rejects(`${OK}content-length: 5, 5\r\n\r\nhello`, 'HPE_INVALID_CONTENT_LENGTH');
  rejects(`${OK}content-length: -1\r\n\r\n`, 'HPE_INVALID_CONTENT_LENGTH');
  rejects(`${OK}content-length: 0x10\r\n\r\n`, 'HPE_INVALID_CONTENT_LENGTH');
  rejects(`${OK}content-length: 1e3\r\n\r\n`, 'HPE_INVALID_CONTENT_LENGTH');
  rejects(`${OK}content-length:\r\n\r\n`, 'HPE_INVALID_CONTENT_LENGTH');
});

test('Transfer-Encoding other than exactly chunked, repeated, or in HTTP/1.0 is refused', () => {
  rejects(`${OK}transfer-encoding: gzip, chunked\r\n\r\n`, 'HPE_INVALID_TRANSFER_ENCODING');
  rejects(`${OK}transfer-encoding: chunked, identity\r\n\r\n`, 'HPE_INVALID_TRANSFER_ENCODING');
  rejects(`${OK}transfer-encoding: xchunked\r\n\r\n`, 'HPE_INVALID_TRANSFER_ENCODING');
  rejects(`${OK}transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n`, 'HPE_INVALID_TRANSFER_ENCODING');
  rejects('HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n', 'HPE_INVALID_TRANSFER_ENCODING');
});

test('invalid chunk sizes and chunk framing', () => {
  const te = `${OK}transfer-encoding: chunked\r\n\r\n`;
  rejects(`${te}zz\r\nhello\r\n0\r\n\r\n`, 'HPE_INVALID_CHUNK_SIZE');
  rejects(`${te}5 \r\nhello\r\n0\r\n\r\n`, 'HPE_INVALID_CHUNK_SIZE');
  rejects(`${te} 5\r\nhello\r\n0\r\n\r\n`, 'HPE_INVALID_CHUNK_SIZE');
  rejects(`${te}-5\r\nhello\r\n0\r\n\r\n`, 'HPE_INVALID_CHUNK_SIZE');
  rejects(`${te}0x5\r\nhello\r\n0\r\n\r\n`, 'HPE_INVALID_CHUNK_SIZE');
  rejects(`${te}\r\nhello\r\n0\r\n\r\n`, 'HPE_INVALID_CHUNK_SIZE');
  rejects(`${te}${'f'.repeat(14)}\r\n`, 'HPE_INVALID_CHUNK_SIZE');
  rejects(`${te}5\nhello\r\n0\r\n\r\n`, 'HPE_LF_EXPECTED');
  rejects(`${te}5\r\nhelloXX0\r\n\r\n`, 'HPE_STRICT');
  rejects(`${te}5\r\nhello\n0\r\n\r\n`, 'HPE_STRICT');
  rejects(`${te}5;${'x'.repeat(2000)}\r\nhello\r\n0\r\n\r\n`, 'HPE_CHUNK_EXTENSIONS_OVERFLOW');
  rejects(`${te}0\r\nbad trailer\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
});

test('malformed heads: status line, header names, obs-fold, control characters, bare LF, size', () => {
  rejects('HTTP/1.1 20 OK\r\n\r\n', 'HPE_INVALID_CONSTANT');
  rejects('HTTP/2.0 200 OK\r\n\r\n', 'HPE_INVALID_CONSTANT');
  rejects('HTTP/1.1  200 OK\r\n\r\n', 'HPE_INVALID_CONSTANT');
  rejects('ICY 200 OK\r\n\r\n', 'HPE_INVALID_CONSTANT');
  rejects('HTTP/1.1 200 O\x00K\r\n\r\n', 'HPE_INVALID_CONSTANT');
  rejects(`${OK}X-A : b\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  rejects(`${OK}: b\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  rejects(`${OK}no colon\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  rejects(`${OK}X-A: b\r\n folded\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  rejects(`${OK}X-A: b\x01c\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  rejects(`${OK}X-A: b\rc\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  rejects(`${OK}X-A: b\nX-Smuggled: c\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  rejects('HTTP/1.1 200 OK\nX-A: b\n\n', 'HPE_LF_EXPECTED');
  rejects(`${OK}${'X-Big: '.concat('a'.repeat(500), '\r\n').repeat(Math.ceil(MAX_HEAD_BYTES / 500))}\r\n`, 'HPE_HEADER_OVERFLOW');
  rejects(`${OK}${'a'.repeat(MAX_HEAD_BYTES)}`, 'HPE_HEADER_OVERFLOW');
});

test('the parser is reusable: reset() starts the next response on the same connection', () => {
  const bodies: string[] = [];
  const p = new H1ResponseParser({ onHead() {}, onBody: (c) => bodies.push(c.toString()), onEnd() {} });
  for (const b of ['one', 'two']) {
    p.reset(false);
    p.execute(Buffer.from(`${OK}content-length: 3\r\n\r\n${b}`));
    assert.ok(p.complete);
  }
  assert.deepEqual(bodies, ['one', 'two']);
});
