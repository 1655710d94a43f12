// The mesh HTTP/2 engine (src/proxy/h2/) against node:http2 both ways and
// against itself, over TCP and TLS (ALPN h2) on real sockets: requests with
// and without bodies, trailers, 200 streams at once, repeated fields, header
// blocks that need CONTINUATION, and answers that carry no body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  FrameType,
  INTEROP,
  collect,
  nextEvent,
  pairingName,
  randomToken,
  readAll,
  requestHeaders,
  sniffFrames,
  startClient,
  startPair,
  startServer,
  within,
  type Pairing,
  type ServerStreamLike,
  type WireFrame,
} from './h2-engine-harness.ts';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

for (const p of INTEROP) {
  const name = pairingName(p);

  test(`${name}: GET without a body`, async (t) => {
    let seen: Record<string, unknown> | undefined;
    let requestBody: Buffer | undefined;
    let endAfterHeaders: boolean | undefined;
    const { client } = await startPair(t, p, (stream, headers) => {
      seen = headers;
      endAfterHeaders = stream.endAfterHeaders;
      void readAll(stream).then((body) => {
        requestBody = body;
        stream.respond({ ':status': 200, 'content-type': 'text/plain' });
        stream.end(`hello ${headers[':path']}`);
      });
    });
    const res = await within(collect(client.request(requestHeaders(p.transport, 'GET', '/hello?x=1'), { endStream: true })), 10_000, 'GET response');
    assert.equal(Number(res.headers[':status']), 200);
    assert.equal(res.headers['content-type'], 'text/plain');
    assert.ok(res.headers.date, 'a date header');
    assert.equal(res.body.toString(), 'hello /hello?x=1');
    assert.equal(res.endAfterHeaders, false);
    assert.equal(seen![':method'], 'GET');
    assert.equal(seen![':scheme'], p.transport === 'tls' ? 'https' : 'http');
    assert.equal(seen![':authority'], '127.0.0.1');
    assert.equal(requestBody!.length, 0);
    assert.equal(endAfterHeaders, true, "the server stream's endAfterHeaders (the request proxies forward as bodiless)");
  });

  test(`${name}: POST with a body larger than the default window, echoed back`, async (t) => {
    let endAfterHeaders: boolean | undefined;
    const { client } = await startPair(t, p, (stream) => {
      endAfterHeaders = stream.endAfterHeaders;
      void readAll(stream).then((body) => {
        stream.respond({ ':status': 200, 'x-request-sha256': sha256(body), 'x-request-bytes': body.length });
        stream.end(body);
      });
    });
    const parts = [Buffer.alloc(1, 1), Buffer.alloc(70_000, 2), Buffer.from('middle'), Buffer.alloc(250_000, 3)];
    const body = Buffer.concat(parts);
    const stream = client.request(requestHeaders(p.transport, 'POST', '/echo', { 'content-type': 'application/octet-stream' }), { endStream: false });
    const res = collect(stream);
    for (const part of parts) stream.write(part);
    stream.end();
    const r = await within(res, 10_000, 'POST response');
    assert.equal(Number(r.headers[':status']), 200);
    assert.equal(r.headers['x-request-bytes'], String(body.length));
    assert.equal(r.headers['x-request-sha256'], sha256(body));
    assert.equal(r.body.length, body.length);
    assert.ok(r.body.equals(body), 'the echoed body is the body sent');
    assert.equal(endAfterHeaders, false);
  });

  test(`${name}: trailers after a body and after an empty body`, async (t) => {
    const { client } = await startPair(t, p, (stream, headers) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': `done ${headers[':path']}` }));
      void readAll(stream).then(() => {
        if (headers[':path'] === '/body') {
          stream.write('first,');
          stream.write('second');
        }
        stream.end();
      });
    });
    for (const path of ['/body', '/empty']) {
      const r = await within(collect(client.request(requestHeaders(p.transport, 'POST', path, { te: 'trailers' }), { endStream: true })), 10_000, `response to ${path}`);
      assert.equal(Number(r.headers[':status']), 200);
      assert.equal(r.body.toString(), path === '/body' ? 'first,second' : '');
      assert.ok(r.trailers, `trailers for ${path}`);
      assert.equal(r.trailers['grpc-status'], '0');
      assert.equal(r.trailers['grpc-message'], `done ${path}`);
      assert.equal(r.trailers[':status'], undefined);
    }
  });

  test(`${name}: 200 streams at once on one session, each answered with its own body`, async (t) => {
    const N = 200;
    const waiting: { stream: ServerStreamLike; path: string; body: Buffer }[] = [];
    // The server answers only once all N requests are open: they are concurrent, not one after another.
    const { client } = await startPair(t, p, (stream, headers) => {
      void readAll(stream).then((body) => {
        waiting.push({ stream, path: headers[':path'] as string, body });
        if (waiting.length < N) return;
        for (const w of waiting.reverse()) {
          w.stream.respond({ ':status': 200 });
          w.stream.end(`${w.path} got ${w.body.toString()}`);
        }
      });
    });
    const results = [];
    for (let i = 0; i < N; i++) {
      const stream = client.request(requestHeaders(p.transport, 'POST', `/n/${i}`), { endStream: false });
      results.push(collect(stream));
      stream.end(`body ${i}`);
    }
    const all = await within(Promise.all(results), 20_000, `${N} responses`);
    all.forEach((r, i) => {
      assert.equal(Number(r.headers[':status']), 200);
      assert.equal(r.body.toString(), `/n/${i} got body ${i}`);
    });
  });

  test(`${name}: repeated fields: cookie joined with "; ", set-cookie kept as a list, others joined with ", "`, async (t) => {
    let seen: Record<string, unknown> | undefined;
    const { client } = await startPair(t, p, (stream, headers) => {
      seen = headers;
      stream.respond({ ':status': 200, 'set-cookie': ['a=1; Path=/', 'b=2; HttpOnly'], 'x-reply': ['x', 'y'] });
      stream.end();
    });
    const r = await within(collect(client.request(requestHeaders(p.transport, 'GET', '/', { cookie: ['c=3', 'd=4'], 'x-multi': ['1', '2'] }), { endStream: true })), 10_000, 'response');
    assert.equal(seen!.cookie, 'c=3; d=4');
    assert.equal(seen!['x-multi'], '1, 2');
    assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly']);
    assert.equal(r.headers['x-reply'], 'x, y');
  });

  // node:http2 refuses to send a single-value field twice, so only our client can; either server keeps the first.
  if (p.client === 'mesh') {
    test(`${name}: a single-value field sent twice: the server's header object keeps the first value, as node:http2's`, async (t) => {
      let seen: Record<string, unknown> | undefined;
      const { client } = await startPair(t, p, (stream, headers) => {
        seen = headers;
        stream.respond({ ':status': 200 });
        stream.end();
      });
      await within(collect(client.request(requestHeaders(p.transport, 'GET', '/', { 'user-agent': ['first', 'second'] }), { endStream: true })), 10_000, 'response');
      assert.equal(seen!['user-agent'], 'first');
    });
  }

  test(`${name}: header values over 16 KB cross in HEADERS + CONTINUATION both ways`, async (t) => {
    const big = randomToken(24_000);
    const bigReply = randomToken(24_000);
    let seen: Record<string, unknown> | undefined;
    const logs: { inbound: WireFrame[]; outbound: WireFrame[] }[] = [];
    const { client } = await startPair(
      t,
      p,
      (stream, headers) => {
        seen = headers;
        stream.respond({ ':status': 200, 'x-big-reply': bigReply });
        stream.end('ok');
      },
      { server: { onMeshSession: (s) => logs.push(sniffFrames(s.socket, true)) } },
    );
    if (client.engine === 'mesh') logs.push(sniffFrames(client.socket, false));
    const r = await within(collect(client.request(requestHeaders(p.transport, 'GET', '/big', { 'x-big': big }), { endStream: true })), 10_000, 'response');
    assert.equal(seen!['x-big'], big);
    assert.equal(r.headers['x-big-reply'], bigReply);
    assert.equal(r.body.toString(), 'ok');
    // Our side's socket saw a header block split over frames in each direction.
    assert.ok(logs.length > 0);
    for (const log of logs) {
      assert.ok(log.inbound.some((f) => f.type === FrameType.CONTINUATION), 'CONTINUATION received');
      assert.ok(log.outbound.some((f) => f.type === FrameType.CONTINUATION), 'CONTINUATION sent');
      assert.ok(log.outbound.every((f) => f.payload.length <= 16_384), 'no frame over 16 KiB sent');
    }
  });

  test(`${name}: HEAD and 204 answers carry no body`, async (t) => {
    const closedOnServer: Promise<unknown>[] = [];
    const { client } = await startPair(t, p, (stream, headers) => {
      closedOnServer.push(nextEvent(stream, 'close'));
      stream.resume();
      if (headers[':path'] === '/no-content') stream.respond({ ':status': 204 });
      else stream.respond({ ':status': 200, 'content-length': '11', 'content-type': 'text/plain' });
    });
    const headStream = client.request(requestHeaders(p.transport, 'HEAD', '/doc'), { endStream: true });
    const head = await within(collect(headStream), 10_000, 'HEAD response');
    // Our client also says so the way node:http2's server streams do.
    if (client.engine === 'mesh') assert.equal(headStream.endAfterHeaders, true);
    assert.equal(Number(head.headers[':status']), 200);
    assert.equal(head.headers['content-length'], '11');
    assert.equal(head.body.length, 0);
    assert.equal(head.endAfterHeaders, true, 'END_STREAM on the HEADERS frame');
    const none = await within(collect(client.request(requestHeaders(p.transport, 'GET', '/no-content'), { endStream: true })), 10_000, '204 response');
    assert.equal(Number(none.headers[':status']), 204);
    assert.equal(none.body.length, 0);
    assert.equal(none.endAfterHeaders, true, 'END_STREAM on the HEADERS frame');
    // Without end(): both server streams finished on their own.
    await within(Promise.all(closedOnServer), 5_000, "server streams' close");
  });

  test(`${name}: an informational 103 before the response`, async (t) => {
    const { client } = await startPair(t, p, (stream) => {
      stream.resume();
      stream.additionalHeaders({ ':status': 103, link: '</a.css>; rel=preload' });
      stream.respond({ ':status': 200 });
      stream.end('final');
    });
    const stream = client.request(requestHeaders(p.transport, 'GET', '/'), { endStream: true });
    const informational = nextEvent<Record<string, unknown>>(stream, 'headers');
    const r = await within(collect(stream), 10_000, 'response');
    const early = await informational;
    assert.equal(Number(early[':status']), 103);
    assert.equal(early.link, '</a.css>; rel=preload');
    assert.equal(Number(r.headers[':status']), 200);
    assert.equal(r.body.toString(), 'final');
  });
}

// Our client sends no trailers (the proxy forwards none on the mTLS hop); node:http2's can.
for (const p of INTEROP.filter((x) => x.client === 'node')) {
  test(`${pairingName(p)}: request trailers after the body reach the server stream's 'trailers', then 'end'`, async (t) => {
    const { client } = await startPair(t, p, (stream) => {
      const events: string[] = [];
      let trailers: Record<string, unknown> | undefined;
      stream.once('trailers', (h: Record<string, unknown>) => {
        trailers = h;
        events.push('trailers');
      });
      void readAll(stream).then((body) => {
        events.push('end');
        stream.respond({ ':status': 200 });
        stream.end(JSON.stringify({ body: body.toString(), trailers, events }));
      });
    });
    const stream = client.request(requestHeaders(p.transport, 'POST', '/', { te: 'trailers' }), { endStream: false, waitForTrailers: true });
    (stream as unknown as { once(e: string, f: () => void): void }).once('wantTrailers', () => (stream as unknown as { sendTrailers(h: Record<string, string>): void }).sendTrailers({ 'x-checksum': 'abc' }));
    const response = collect(stream);
    stream.end('payload');
    const got = JSON.parse((await within(response, 10_000, 'response')).body.toString()) as { body: string; trailers: Record<string, string>; events: string[] };
    assert.equal(got.body, 'payload');
    assert.equal(got.trailers['x-checksum'], 'abc');
    assert.deepEqual(got.events, ['trailers', 'end']);
  });
}
