// HTTP/2 h2c prior knowledge inbound, to HTTP/1 and HTTP/2 clusters; gRPC
// bidirectional streaming with trailers over h2c end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { httpUpstream, echoHandler, http2Upstream } from '../../harness/upstream-servers.ts';
import { startTestProxy, snapshot, httpListener, cluster } from '../../harness/proxy-builder.ts';
import { grpcChat } from '../../harness/grpc-chat.ts';

function h2request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string): Promise<{ headers: http2.IncomingHttpHeaders; body: string; trailers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const s = session.request(headers, { endStream: body === undefined });
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    let text = '';
    s.on('response', (h) => (resHeaders = h));
    s.on('trailers', (h) => (trailers = h));
    s.on('data', (c: Buffer) => (text += c));
    s.on('end', () => resolve({ headers: resHeaders, body: text, trailers }));
    s.on('error', reject);
    if (body !== undefined) s.end(body);
  });
}

test('h2c prior-knowledge client → proxy → HTTP/1.1 upstream, routed on :authority', async (t) => {
  const up = await httpUpstream(echoHandler('payments'));
  t.after(() => up.close());
  const p = await startTestProxy(
    snapshot([httpListener('out', [{ name: 'payments', match: { hosts: ['payments'] }, destinations: [{ cluster: 'payments' }] }])], [cluster('payments', [up.port])]),
  );
  t.after(() => p.close());
  const session = http2.connect(`http://127.0.0.1:${p.port()}`);
  t.after(() => session.close());
  const r = await h2request(session, { ':method': 'POST', ':path': '/h2', ':authority': 'payments:9000' }, 'hello');
  assert.equal(r.headers[':status'], 200);
  const seen = JSON.parse(r.body);
  assert.equal(seen.headers.host, 'payments:9000');
  assert.equal(seen.bodyBytes, 5);
  assert.equal(r.headers['x-upstream-name'], 'payments');
  assert.equal(r.headers.connection, undefined);
});

test('gRPC bidi streaming with trailers over h2c, through the proxy to an http2 cluster', async (t) => {
  // A gRPC-shaped echo: each length-prefixed message comes back as soon as it arrives; grpc-status in trailers.
  const up = await http2Upstream((stream, headers) => {
    assert.equal(headers['content-type'], 'application/grpc');
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'done' }));
    stream.on('data', (c: Buffer) => stream.write(c));
    stream.on('end', () => stream.end());
  });
  t.after(() => up.close());
  const p = await startTestProxy(
    snapshot([httpListener('out', [{ name: 'echo', destinations: [{ cluster: 'echo' }] }])], [cluster('echo', [up.port], { protocol: 'http2' })]),
  );
  t.after(() => p.close());
  const session = http2.connect(`http://127.0.0.1:${p.port()}`);
  t.after(() => session.close());
  const stream = session.request({ ':method': 'POST', ':path': '/echo.Echo/Chat', 'content-type': 'application/grpc', te: 'trailers' });
  const trailers = new Promise<http2.IncomingHttpHeaders>((r) => stream.on('trailers', r));
  // Bidi: each reply arrives before the next message is sent.
  const received = await grpcChat(stream, ['one', 'two', 'three']);
  const t2 = await trailers;
  assert.deepEqual(received, ['one', 'two', 'three']);
  assert.equal(t2['grpc-status'], '0');
  assert.equal(t2['grpc-message'], 'done');
});

test('HTTP/1.1 client → proxy → h2c cluster: headers, body and status cross protocols', async (t) => {
  const up = await http2Upstream((stream, headers) => {
    let body = '';
    stream.on('data', (c: Buffer) => (body += c));
    stream.on('end', () => {
      stream.respond({ ':status': 201, 'content-type': 'application/json', 'x-seen-authority': String(headers[':authority']) });
      stream.end(JSON.stringify({ path: headers[':path'], method: headers[':method'], body, xff: headers['x-forwarded-for'] }));
    });
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'h2', destinations: [{ cluster: 'h2' }] }])], [cluster('h2', [up.port], { protocol: 'http2' })]));
  t.after(() => p.close());
  const { request } = await import('../../harness/http-client.ts');
  const r = await request(p.port(), { method: 'POST', path: '/items?x=1', headers: { host: 'inventory:7000', connection: 'keep-alive' }, body: 'payload' });
  assert.equal(r.status, 201);
  assert.equal(r.headers['x-seen-authority'], 'inventory:7000');
  assert.deepEqual(JSON.parse(r.body), { path: '/items?x=1', method: 'POST', body: 'payload', xff: '127.0.0.1' });
  // Sequential requests share one h2c session to the upstream.
  await request(p.port(), { headers: { host: 'inventory' } });
  assert.equal(up.connections, 1);
});

test('an HTTP/2 client that resets its stream mid-response cancels the upstream stream', async (t) => {
  let upstreamClosed = 0;
  const up = await http2Upstream((stream) => {
    stream.respond({ ':status': 200 });
    const timer = setInterval(() => stream.write(Buffer.alloc(8192)), 5);
    stream.on('close', () => {
      clearInterval(timer);
      upstreamClosed++;
    });
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'h2', destinations: [{ cluster: 'h2' }] }])], [cluster('h2', [up.port], { protocol: 'http2' })]));
  t.after(() => p.close());
  const session = http2.connect(`http://127.0.0.1:${p.port()}`);
  t.after(() => session.close());
  const s = session.request({ ':path': '/forever' });
  await new Promise<void>((r) => s.once('data', () => r()));
  s.close(http2.constants.NGHTTP2_CANCEL);
  const { eventually } = await import('../../harness/eventually.ts');
  await eventually(() => assert.equal(upstreamClosed, 1));
});
