// HTTP/2 clients of the proxy, served from node:http2's raw 'stream' event
// (listeners/h2-stream-exchange.ts): the parts of HTTP/2 serving the compat API
// used to do for the proxy (HEAD, 204, 100-continue, CONNECT, trailers,
// backpressure, a client leaving mid-upload).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { httpUpstream, echoHandler } from '../../harness/upstream-servers.ts';
import { startTestProxy, snapshot, httpListener, cluster } from '../../harness/proxy-builder.ts';
import { eventually } from '../../harness/eventually.ts';

interface H2Result {
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | undefined;
}

function collect(s: http2.ClientHttp2Stream): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    s.on('response', (h) => (headers = h));
    s.on('trailers', (h) => (trailers = h));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve({ headers, body: Buffer.concat(chunks), trailers }));
    s.on('error', reject);
  });
}

async function proxyTo(t: import('node:test').TestContext, handler: http.RequestListener): Promise<{ session: http2.ClientHttp2Session; upstream: Awaited<ReturnType<typeof httpUpstream>> }> {
  const upstream = await httpUpstream(handler);
  t.after(() => upstream.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'app', destinations: [{ cluster: 'app' }] }])], [cluster('app', [upstream.port])]));
  t.after(() => p.close());
  const session = http2.connect(`http://127.0.0.1:${p.port()}`);
  t.after(() => session.destroy());
  return { session, upstream };
}

test('HEAD and 204 over HTTP/2 end without a body', async (t) => {
  const { session } = await proxyTo(t, (req, res) => {
    if (req.url === '/empty') {
      res.writeHead(204, { 'x-kind': 'empty' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
    res.end(req.method === 'HEAD' ? undefined : 'hello');
  });
  const head = await collect(session.request({ ':method': 'HEAD', ':path': '/x' }));
  assert.equal(head.headers[':status'], 200);
  assert.equal(head.headers['content-length'], '5');
  assert.equal(head.body.length, 0);
  const empty = await collect(session.request({ ':path': '/empty' }));
  assert.equal(empty.headers[':status'], 204);
  assert.equal(empty.headers['x-kind'], 'empty');
  assert.equal(empty.body.length, 0);
  const get = await collect(session.request({ ':path': '/x' }));
  assert.equal(get.body.toString(), 'hello');
  assert.equal(get.trailers, undefined);
});

test('expect: 100-continue over HTTP/2 is answered, then the body goes upstream', async (t) => {
  const { session } = await proxyTo(t, echoHandler('app'));
  const s = session.request({ ':method': 'POST', ':path': '/upload', expect: '100-continue' }, { endStream: false });
  const result = collect(s);
  await new Promise<void>((r) => s.once('continue', () => r()));
  s.end('twelve bytes');
  const r = await result;
  assert.equal(r.headers[':status'], 200);
  assert.equal(JSON.parse(r.body.toString()).bodyBytes, 12);
});

test('CONNECT over HTTP/2 is refused with 405', async (t) => {
  const { session } = await proxyTo(t, echoHandler('app'));
  const r = await collect(session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' }, { endStream: false }));
  assert.equal(r.headers[':status'], 405);
});

test('trailers of a chunked HTTP/1.1 response reach an HTTP/2 client', async (t) => {
  const { session } = await proxyTo(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
    res.write('part one, ');
    res.addTrailers({ 'x-checksum': 'abc123' });
    res.end('part two');
  });
  const r = await collect(session.request({ ':path': '/t', te: 'trailers' }));
  assert.equal(r.body.toString(), 'part one, part two');
  assert.equal(r.trailers?.['x-checksum'], 'abc123');
});

test('a large response to a slow HTTP/2 reader arrives whole (backpressure, no loss)', async (t) => {
  const size = 6 * 1024 * 1024;
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = i % 251;
  const { session } = await proxyTo(t, (_req, res) => {
    res.writeHead(200, { 'content-length': String(size) });
    res.end(payload);
  });
  const s = session.request({ ':path': '/big' });
  // Read nothing for a while: the stream and connection windows fill, the proxy must wait for 'drain'.
  s.pause();
  const result = collect(s);
  await new Promise((r) => setTimeout(r, 200));
  s.resume();
  const r = await result;
  assert.equal(r.body.length, size);
  assert.ok(r.body.equals(payload));
});

test('an HTTP/2 client that resets mid-upload cancels the upstream request', async (t) => {
  let upstreamAborted = 0;
  let received = 0;
  const { session } = await proxyTo(t, (req, res) => {
    req.on('data', (c: Buffer) => (received += c.length));
    res.on('close', () => {
      if (!res.writableFinished) upstreamAborted++;
    });
  });
  const s = session.request({ ':method': 'POST', ':path': '/upload', 'content-type': 'application/octet-stream' }, { endStream: false });
  s.on('error', () => {});
  s.write(Buffer.alloc(64 * 1024));
  await eventually(() => assert.ok(received > 0));
  s.close(http2.constants.NGHTTP2_CANCEL);
  await eventually(() => assert.equal(upstreamAborted, 1));
});
