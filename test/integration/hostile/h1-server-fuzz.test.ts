// Property tests of the proxy's own HTTP/1.1 server (listeners/h1-server-connection.ts)
// over real sockets, with a fixed seed (FUZZ_SEED / FUZZ_RUNS override it,
// see test/unit/fuzz/fuzz-runs.ts). Random sequences of valid requests
// (methods, Content-Length and chunked bodies from empty to over 64 KiB,
// header case, Expect: 100-continue, Connection: close, HTTP/1.0, a host with
// no route) are pipelined and cut at random byte boundaries: every response
// comes back in order with the right status and body, the upstream gets
// exactly the requests sent with their exact bodies, and the connection closes
// exactly when it should. Random invalid inputs (garbage, smuggling variants,
// bad chunk framing, truncated heads) are refused and closed, reach no
// upstream, and leave the proxy serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { httpUpstream } from '../../harness/upstream-servers.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { raw } from './hostile-harness.ts';

const SEED = Number(process.env.FUZZ_SEED) || 20261122;
const runs = (n: number) => Number(process.env.FUZZ_RUNS) || n;

/** A fraction in [0, 1], uniform (fc.double favours values near 0). */
const fraction = fc.integer({ min: 0, max: 10_000 }).map((n) => n / 10_000);

const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 16);
/** The body the upstream sends for ?size=N (deterministic, so the client can check it). */
const bodyOfSize = (n: number) => Buffer.alloc(n, 'abcdefghijklmnopqrstuvwxyz0123456789');

interface Echoed {
  method: string;
  url: string;
  len: number;
  hash: string;
}

type T = { after(fn: () => Promise<void> | void): void };

/** An upstream that echoes method, url, body length and hash (header and body), a proxy routing Host "app" to it. */
async function echoMesh(t: T) {
  const seen: Echoed[] = [];
  const up = await httpUpstream((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const rec = { method: req.method!, url: req.url!, len: body.length, hash: hash(body) };
      seen.push(rec);
      const echo = `${rec.method} ${rec.url} ${rec.len} ${rec.hash}`;
      const size = /[?&]size=(\d+)/.exec(req.url!);
      const out = size ? bodyOfSize(Number(size[1])) : Buffer.from(echo);
      res.writeHead(200, { 'x-echo': echo, 'content-length': out.length });
      res.end(out);
    });
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'app', match: { hosts: ['app'] }, destinations: [{ cluster: 'app' }] }])], [cluster('app', [up.port])]));
  t.after(() => p.close());
  return { seen, port: p.port() };
}

// Responses as a client reads them ---------------------------------------------------------------

interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Interim (1xx) statuses before this response. */
  interim: number[];
}

/** Parses as many complete responses as `buf` holds; `isHead(i)` says whether response i answers a HEAD. */
function parseResponses(buf: Buffer, isHead: (i: number) => boolean, closed: boolean): { responses: ParsedResponse[]; rest: number; error?: string } {
  const responses: ParsedResponse[] = [];
  let off = 0;
  let interim: number[] = [];
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', off);
    if (end === -1) return { responses, rest: buf.length - off };
    const lines = buf.toString('latin1', off, end).split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]!);
    if (!m) return { responses, rest: buf.length - off, error: `bad status line ${JSON.stringify(lines[0])}` };
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
    }
    let bodyStart = end + 4;
    if (status < 200) {
      interim.push(status);
      off = bodyStart;
      continue;
    }
    if (headers['transfer-encoding'] !== undefined) return { responses, rest: buf.length - off, error: 'unexpected chunked response' };
    let len: number;
    if (isHead(responses.length) || status === 204 || status === 304) len = 0;
    else if (headers['content-length'] !== undefined) len = Number(headers['content-length']);
    else if (closed) len = buf.length - bodyStart;
    else return { responses, rest: buf.length - off };
    if (buf.length - bodyStart < len) return { responses, rest: buf.length - off };
    responses.push({ status, headers, body: buf.subarray(bodyStart, bodyStart + len), interim });
    interim = [];
    off = bodyStart + len;
  }
}

interface Exchange {
  text: Buffer;
  closed: boolean;
  socket: net.Socket;
}

/** Writes `segments` with small delays, optionally half-closes, reads (slowly if asked) until `enough` or the close. */
function exchange(port: number, segments: { bytes: Buffer; delayMs: number }[], opts: { halfClose: boolean; slowRead: boolean; enough: (buf: Buffer, closed: boolean) => boolean; timeoutMs?: number }): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    let closed = false;
    let finished = false;
    let written = false;
    const done = () => {
      // Not before every byte is written: the caller may write more on the socket next.
      if (finished || (!written && !closed)) return;
      finished = true;
      clearTimeout(timer);
      resolve({ text: Buffer.concat(parts), closed, socket: s });
    };
    const timer = setTimeout(() => {
      finished = true;
      s.destroy();
      reject(new Error(`no complete answer within ${opts.timeoutMs ?? 10_000} ms; got ${JSON.stringify(Buffer.concat(parts).toString('latin1').slice(0, 400))}`));
    }, opts.timeoutMs ?? 10_000);
    s.on('data', (d: Buffer) => {
      parts.push(d);
      if (opts.slowRead) {
        s.pause();
        setTimeout(() => s.resume(), 2);
      }
      if (opts.enough(Buffer.concat(parts), false)) done();
    });
    s.on('close', () => {
      closed = true;
      done();
    });
    s.on('error', () => {});
    s.on('connect', async () => {
      for (const seg of segments) {
        if (seg.delayMs > 0) await sleep(seg.delayMs);
        if (s.destroyed) return;
        s.write(seg.bytes);
      }
      if (opts.halfClose && !s.destroyed) s.end();
      written = true;
      if (opts.enough(Buffer.concat(parts), false)) done();
    });
  });
}

/** `bytes` cut at the given fractions, each piece sent after its delay. */
function cut(bytes: Buffer, points: { at: number; delayMs: number }[]): { bytes: Buffer; delayMs: number }[] {
  const offsets = [...new Set(points.map((p) => Math.floor(p.at * bytes.length)))].filter((o) => o > 0 && o < bytes.length).sort((a, b) => a - b);
  const segs: { bytes: Buffer; delayMs: number }[] = [];
  let prev = 0;
  offsets.forEach((o, i) => {
    segs.push({ bytes: bytes.subarray(prev, o), delayMs: i === 0 ? 0 : points[i]!.delayMs });
    prev = o;
  });
  segs.push({ bytes: bytes.subarray(prev), delayMs: segs.length === 0 ? 0 : points[segs.length - 1]?.delayMs ?? 0 });
  return segs;
}

// Valid requests ------------------------------------------------------------------------------

interface ReqSpec {
  method: 'GET' | 'HEAD' | 'POST';
  framing: 'none' | 'length' | 'chunked';
  bodySize: number;
  chunkCuts: number[];
  chunkExt: boolean;
  trailers: boolean;
  nameCase: number[];
  expect: boolean;
  version: '1.1' | '1.0' | '1.0-keep-alive';
  close: boolean;
  host: 'app' | 'nowhere';
  respSize: number;
  leadingCrlf: boolean;
}

const reqSpec: fc.Arbitrary<ReqSpec> = fc.record({
  method: fc.constantFrom('GET', 'HEAD', 'POST', 'POST'),
  framing: fc.constantFrom('none', 'length', 'chunked'),
  bodySize: fc.oneof({ arbitrary: fc.constant(0), weight: 2 }, { arbitrary: fc.integer({ min: 1, max: 200 }), weight: 3 }, { arbitrary: fc.integer({ min: 200, max: 20_000 }), weight: 2 }, { arbitrary: fc.integer({ min: 60_000, max: 150_000 }), weight: 1 }),
  chunkCuts: fc.array(fraction, { maxLength: 5 }),
  chunkExt: fc.boolean(),
  trailers: fc.boolean(),
  nameCase: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 8, maxLength: 8 }),
  expect: fc.boolean(),
  version: fc.constantFrom('1.1', '1.1', '1.1', '1.0', '1.0-keep-alive'),
  close: fc.oneof({ arbitrary: fc.constant(false), weight: 5 }, { arbitrary: fc.constant(true), weight: 1 }),
  host: fc.constantFrom('app', 'app', 'app', 'app', 'app', 'nowhere'),
  respSize: fc.oneof({ arbitrary: fc.constant(-1), weight: 4 }, { arbitrary: fc.constant(0), weight: 1 }, { arbitrary: fc.integer({ min: 1, max: 300_000 }), weight: 1 }),
  leadingCrlf: fc.boolean(),
});

function caseName(name: string, how: number): string {
  if (how === 0) return name.toLowerCase();
  if (how === 1) return name.toUpperCase();
  return name;
}

/** The request on the wire, its body, and what the proxy should do with it. */
function render(r: ReqSpec, id: string, index: number): { bytes: Buffer; body: Buffer; url: string; keepsOpen: boolean; forwarded: boolean } {
  const http10 = r.version !== '1.1';
  // HTTP/1.0 has no chunked bodies; a bodiless GET/HEAD keeps "none" or a Content-Length.
  const framing = http10 && r.framing === 'chunked' ? 'length' : r.method !== 'POST' && r.framing === 'chunked' ? 'length' : r.framing;
  const body = framing === 'none' ? Buffer.alloc(0) : Buffer.alloc(r.bodySize, `${id}-${index}-`);
  const url = `/${id}/${index}${r.respSize >= 0 ? `?size=${r.respSize}` : ''}`;
  const n = (name: string, i: number) => caseName(name, r.nameCase[i]!);
  let head = `${r.method} ${url} HTTP/${http10 ? '1.0' : '1.1'}\r\n${n('Host', 0)}: ${r.host}\r\n`;
  if (r.version === '1.0-keep-alive') head += `${n('Connection', 1)}: ${n('Keep-Alive', 2)}\r\n`;
  if (r.close) head += `${n('Connection', 1)}: ${n('close', 3)}\r\n`;
  if (r.expect) head += `${n('Expect', 4)}: 100-${n('continue', 5)}\r\n`;
  let wireBody: Buffer = body;
  if (framing === 'length') head += `${n('Content-Length', 6)}: ${body.length}\r\n`;
  else if (framing === 'chunked') {
    head += `${n('Transfer-Encoding', 7)}: ${n('chunked', 2)}\r\n`;
    const offsets = [...new Set(r.chunkCuts.map((c) => Math.floor(c * body.length)))].filter((o) => o > 0 && o < body.length).sort((a, b) => a - b);
    const pieces: Buffer[] = [];
    let prev = 0;
    for (const o of [...offsets, body.length]) {
      if (o === prev) continue;
      pieces.push(Buffer.from(`${(o - prev).toString(16)}${r.chunkExt ? ';ext=1' : ''}\r\n`), body.subarray(prev, o), Buffer.from('\r\n'));
      prev = o;
    }
    pieces.push(Buffer.from(`0\r\n${r.trailers ? 'X-Trailer: t\r\n' : ''}\r\n`));
    wireBody = Buffer.concat(pieces);
  }
  const lead = r.leadingCrlf ? '\r\n' : '';
  const keepsOpen = !r.close && (r.version === '1.1' || r.version === '1.0-keep-alive');
  return { bytes: Buffer.concat([Buffer.from(`${lead}${head}\r\n`, 'latin1'), wireBody]), body, url, keepsOpen, forwarded: r.host === 'app' };
}

const scenario = fc.record({
  reqs: fc.array(reqSpec, { minLength: 1, maxLength: 5 }),
  cuts: fc.array(fc.record({ at: fraction, delayMs: fc.integer({ min: 0, max: 3 }) }), { maxLength: 8 }),
  halfClose: fc.boolean(),
  slowRead: fc.boolean(),
});

test('random valid pipelined requests, cut at random bytes: every response in order, exact upstream requests, closes exactly when it should', async (t) => {
  const mesh = await echoMesh(t);
  let run = 0;
  const stats = { responses: 0, bytes: 0 };
  t.after(() => t.diagnostic(`${run} connections, ${stats.responses} responses, ${(stats.bytes / 2 ** 20).toFixed(1)} MiB`));
  await fc.assert(
    fc.asyncProperty(scenario, async (sc) => {
      const id = `r${run++}`;
      const rendered = sc.reqs.map((r, i) => render(r, id, i));
      // The first request that closes the connection is the last one answered.
      const closer = rendered.findIndex((r) => !r.keepsOpen);
      const answered = closer === -1 ? rendered.length : closer + 1;
      const expectClose = closer !== -1 || sc.halfClose;
      const isHead = (i: number) => sc.reqs[i]?.method === 'HEAD';
      const bytes = Buffer.concat(rendered.map((r) => r.bytes));
      const seenBefore = mesh.seen.length;
      const ex = await exchange(mesh.port, cut(bytes, sc.cuts), {
        halfClose: sc.halfClose,
        slowRead: sc.slowRead,
        enough: (buf, closed) => !expectClose && parseResponses(buf, isHead, closed).responses.length >= answered,
      });
      const parsed = parseResponses(ex.text, isHead, ex.closed);
      stats.responses += parsed.responses.length;
      stats.bytes += bytes.length + ex.text.length;
      assert.equal(parsed.error, undefined, `response parse error: ${parsed.error}`);
      assert.equal(parsed.rest, 0, `bytes after the last response: ${JSON.stringify(ex.text.toString('latin1').slice(-200))}`);
      assert.equal(parsed.responses.length, answered, `responses: ${parsed.responses.map((r) => r.status).join(',')}`);
      parsed.responses.forEach((res, i) => {
        const spec = sc.reqs[i]!;
        const r = rendered[i]!;
        assert.deepEqual(res.interim, spec.expect && spec.version === '1.1' ? [100] : [], `request ${i}: interim responses`);
        if (!r.forwarded) {
          assert.equal(res.status, 404, `request ${i} to a host with no route`);
          return;
        }
        assert.equal(res.status, 200, `request ${i}: ${res.body.toString('latin1').slice(0, 200)}`);
        const echo = `${spec.method} ${r.url} ${r.body.length} ${hash(r.body)}`;
        assert.equal(res.headers['x-echo'], echo, `request ${i} reached the upstream as sent`);
        const want = spec.method === 'HEAD' ? Buffer.alloc(0) : spec.respSize >= 0 ? bodyOfSize(spec.respSize) : Buffer.from(echo);
        assert.ok(res.body.equals(want), `request ${i}: response body (${res.body.length} bytes, want ${want.length})`);
      });
      const expectedSeen = rendered.slice(0, answered).flatMap((r, i) => (r.forwarded ? [{ method: sc.reqs[i]!.method, url: r.url, len: r.body.length, hash: hash(r.body) }] : []));
      assert.deepEqual(mesh.seen.slice(seenBefore), expectedSeen, 'the upstream got exactly the requests answered, nothing after a close');
      if (expectClose) {
        assert.equal(ex.closed, true, 'closed');
      } else {
        // Still open: one more request on it is served, and then the connection closes as asked.
        assert.equal(ex.closed, false, 'the connection stayed open');
        const tail = await new Promise<string>((resolve) => {
          let got = '';
          ex.socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
          ex.socket.on('close', () => resolve(got));
          ex.socket.write(`GET /${id}/last HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n`);
        });
        assert.match(tail, /^HTTP\/1\.1 200 /);
      }
      ex.socket.destroy();
    }),
    { numRuns: runs(400), seed: SEED, endOnFailure: true },
  );
});

// Invalid input -------------------------------------------------------------------------------

const smuggling = [
  'POST /x HTTP/1.1\r\nHost: app\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: app\r\n\r\n',
  'POST /x HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nG',
  'POST /x HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
  'POST /x HTTP/1.1\r\nHost: app\r\nContent-Length: 5, 5\r\n\r\nhello',
  'POST /x HTTP/1.1\r\nHost: app\r\nContent-Length: +5\r\n\r\nhello',
  'POST /x HTTP/1.1\r\nHost: app\r\nContent-Length: -1\r\n\r\n',
  'POST /x HTTP/1.1\r\nHost: app\r\nContent-Length: 0x5\r\n\r\nhello',
  'POST /x HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
  'POST /x HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: identity\r\n\r\n',
  'POST /x HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n',
  'POST /x HTTP/1.1\r\nHost: app\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
  'POST /x HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST /x HTTP/1.0\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST /x HTTP/1.1\r\nHost: app\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST /x HTTP/1.1\r\nHost: app\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n',
  'POST /x HTTP/1.1\r\nHost: app\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST /x HTTP/1.1\r\nHost: app\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'GET /x HTTP/1.1\r\nHost: a\x00pp\r\n\r\n',
  'GET /x HTTP/2.0\r\nHost: app\r\n\r\n',
  'GET /x http/1.1\r\nHost: app\r\n\r\n',
  'GET /x\r\nHost: app\r\n\r\n',
  'GET /a\tb HTTP/1.1\r\nHost: app\r\n\r\n',
  'GET  /x HTTP/1.1\r\nHost: app\r\n\r\n',
  'G(T /x HTTP/1.1\r\nHost: app\r\n\r\n',
  ': empty-name\r\n\r\n',
  'GET /x HTTP/1.1\r\n: v\r\n\r\n',
];

// Chunk framing errors: the head is valid, so the request may already be on its way when the body goes wrong.
const badChunks = ['zz\r\n', '-1\r\n', '1 \r\n', '\r\n', '0x5\r\n', `${'0'.repeat(13)}1\r\n`, '5\r\nhelloXX', '5\nhello\r\n', '5\r\nhello\n0\r\n\r\n', '0\r\nX-T: a\n\r\n', '0\r\n bad\r\n\r\n'];

const invalid = fc.oneof(
  fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }), first: fc.constantFrom(0x00, 0x01, 0x7f, 0xff, 0x28, 0x20) }),
  fc.record({ kind: fc.constant('smuggling' as const), i: fc.nat({ max: smuggling.length - 1 }) }),
  fc.record({ kind: fc.constant('chunk' as const), i: fc.nat({ max: badChunks.length - 1 }), good: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('truncated' as const), at: fraction }),
);

test('random invalid input: refused (4xx/501) or cut, and closed; nothing reaches the upstream; the proxy goes on serving', async (t) => {
  const mesh = await echoMesh(t);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(invalid, fc.boolean(), fc.array(fc.record({ at: fraction, delayMs: fc.integer({ min: 0, max: 2 }) }), { maxLength: 4 }), async (inv, prefix, cuts) => {
      const id = `bad${run++}`;
      let bad: Buffer;
      // Whether the head is valid and may be forwarded before the body turns out bad.
      let headValid = false;
      let halfClose = false;
      if (inv.kind === 'garbage') bad = Buffer.concat([Buffer.from([inv.first]), inv.bytes, Buffer.from('\r\n\r\n')]);
      else if (inv.kind === 'smuggling') bad = Buffer.from(smuggling[inv.i]!.replace('/x', `/${id}/x`), 'latin1');
      else if (inv.kind === 'chunk') {
        headValid = true;
        const good = Array.from({ length: inv.good }, (_, i) => `3\r\nc${i}c\r\n`).join('');
        bad = Buffer.from(`POST /${id}/c HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n${good}${badChunks[inv.i]!}`, 'latin1');
      } else {
        const head = `GET /${id}/t HTTP/1.1\r\nHost: app\r\nX-A: b\r\n\r\n`;
        // At least the method and a space: protocol detection (not this server) decides on those first.
        bad = Buffer.from(head.slice(0, Math.max(4, Math.min(head.length - 1, Math.floor(inv.at * head.length)))), 'latin1');
        halfClose = true;
      }
      const pre = prefix ? Buffer.from(`GET /${id}/ok HTTP/1.1\r\nHost: app\r\n\r\n`) : Buffer.alloc(0);
      const seenBefore = mesh.seen.length;
      const ex = await exchange(mesh.port, cut(Buffer.concat([pre, bad]), cuts), { halfClose, slowRead: false, enough: () => false });
      assert.equal(ex.closed, true, 'the proxy closed the connection');
      const statuses = [...ex.text.toString('latin1').matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      const after = prefix ? statuses.slice(1) : statuses;
      if (prefix) assert.equal(statuses[0], 200, 'the valid request before is answered');
      if (inv.kind === 'truncated' || headValid) assert.ok(after.length === 0 || (after.length === 1 && after[0]! >= 400), `statuses ${statuses.join(',')}`);
      else {
        assert.equal(after.length, 1, `one refusal: ${JSON.stringify(ex.text.toString('latin1').slice(0, 300))}`);
        assert.ok((after[0]! >= 400 && after[0]! < 500) || after[0] === 501, `refused with ${after[0]}`);
        assert.match(ex.text.toString('latin1'), /x-mesh-error: downstream-protocol-error /);
      }
      // The upstream never completes a request other than the valid one before.
      assert.deepEqual(
        mesh.seen.slice(seenBefore).map((s) => s.url),
        prefix ? [`/${id}/ok`] : [],
      );
      if (run % 10 === 0) await normalRequestWorksHere(mesh.port);
    }),
    { numRuns: runs(300), seed: SEED, endOnFailure: true },
  );
  await normalRequestWorksHere(mesh.port);
});

async function normalRequestWorksHere(port: number): Promise<void> {
  const r = await raw(port, 'GET /normal HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n');
  assert.match(r.text, /^HTTP\/1\.1 200 /);
}
