// gRPC across the sidecar pair: an h2c client → caller sidecar → h2 over mTLS →
// callee sidecar → an h2c app. Both sidecars serve their HTTP/2 client from
// node:http2's raw streams (listeners/h2-stream-exchange.ts): messages stream
// both ways, trailers arrive, and a client that leaves cancels the app's stream
// through both hops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { meshCa, identityFor, runProxy, calleeSnapshot, callerSnapshot } from './mtls-harness.ts';
import { http2Upstream } from '../../harness/upstream-servers.ts';
import { eventually } from '../../harness/eventually.ts';
import { grpcChat, grpcFrame as frame } from '../../harness/grpc-chat.ts';

type T = { after(fn: () => unknown): void };

/** The caller's port, with the callee's app an h2c server running `onStream`. */
async function grpcPair(t: T, onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void): Promise<number> {
  const app = await http2Upstream(onStream);
  t.after(() => app.close());
  const ca = await meshCa(t);
  const calleeSnap = calleeSnapshot('payments', app.port);
  (calleeSnap.clusters![0] as { protocol: string }).protocol = 'http2';
  const callee = await runProxy(t, calleeSnap, await identityFor(t, ca, 'payments'));
  const caller = await runProxy(t, callerSnapshot('orders', 'payments', callee.port('in')), await identityFor(t, ca, 'orders'));
  return caller.port('out');
}

test('gRPC bidi streaming with trailers crosses the mTLS pair', async (t) => {
  const port = await grpcPair(t, (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'done' }));
    stream.on('data', (c: Buffer) => stream.write(c));
    stream.on('end', () => stream.end());
  });
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.after(() => session.destroy());
  const stream = session.request({ ':method': 'POST', ':path': '/echo.Echo/Chat', ':authority': 'payments', 'content-type': 'application/grpc', te: 'trailers' });
  const response = new Promise<http2.IncomingHttpHeaders>((r) => stream.once('response', r));
  const trailers = new Promise<http2.IncomingHttpHeaders>((r) => stream.once('trailers', r));
  // Each reply comes back before the next message goes: nothing is held back by either sidecar.
  const received = await grpcChat(stream, ['one', 'two', 'three']);
  assert.equal((await response)[':status'], 200);
  const tr = await trailers;
  assert.deepEqual(received, ['one', 'two', 'three']);
  assert.equal(tr['grpc-status'], '0');
  assert.equal(tr['grpc-message'], 'done');
});

test('a gRPC client that leaves mid-stream cancels the app stream through both sidecars', async (t) => {
  let appStreams = 0;
  let appClosed = 0;
  const port = await grpcPair(t, (stream) => {
    appStreams++;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    const timer = setInterval(() => stream.write(frame('tick')), 5);
    stream.on('close', () => {
      clearInterval(timer);
      appClosed++;
    });
  });
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.after(() => session.destroy());
  const stream = session.request({ ':method': 'POST', ':path': '/ticks.Ticks/Watch', ':authority': 'payments', 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('error', () => {});
  await new Promise<void>((r) => stream.once('data', () => r()));
  stream.close(http2.constants.NGHTTP2_CANCEL);
  await eventually(() => assert.equal(appClosed, 1));
  assert.equal(appStreams, 1);
});
