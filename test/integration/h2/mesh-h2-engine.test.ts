// The mesh HTTP/2 engine (src/proxy/h2/) when things end early: stream resets
// either way (with node:http2's events and codes), a session closed gracefully
// or cut under its streams, protocol errors from a raw peer answered with the
// right GOAWAY, PING and SETTINGS acknowledged, and a TLS peer that did not
// choose h2. Rows marked "reference" run the same test on node:http2 at both
// ends, to show the expectation is node:http2's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { H2Session } from '../../../src/proxy/h2/h2-session.ts';
import { closedPort } from '../../harness/upstream-servers.ts';
import {
  BAD_HPACK_BLOCK,
  Code,
  FrameType,
  GET_BLOCK,
  H2_PREFACE,
  MiB,
  POST_BLOCK,
  STATUS_200_BLOCK,
  collect,
  connectSocket,
  describeFrames,
  goawayCode,
  h2Frame,
  nextEvent,
  pairingName,
  rawClient,
  rawServer,
  readAll,
  recordEvents,
  requestHeaders,
  settingsPayload,
  startClient,
  startPair,
  startServer,
  testCert,
  u32,
  within,
  type Pairing,
  type RawPeer,
  type ServerConn,
  type ServerStreamLike,
  type StreamHandler,
  type T,
  type TestServer,
} from './h2-engine-harness.ts';

const REFERENCE: Pairing = { client: 'node', server: 'node', transport: 'tcp' };
const nameOf = (p: Pairing): string => (p === REFERENCE ? `${pairingName(p)} (reference)` : pairingName(p));

/** Pairings where our engine is at least one end, and the reference. */
const BOTH_ENDS: readonly Pairing[] = [
  { client: 'mesh', server: 'mesh', transport: 'tcp' },
  { client: 'mesh', server: 'mesh', transport: 'tls' },
  { client: 'mesh', server: 'node', transport: 'tcp' },
  { client: 'node', server: 'mesh', transport: 'tcp' },
  REFERENCE,
];
/** Pairings whose server is ours (server-side behaviour), and the reference. */
const MESH_SERVER = BOTH_ENDS.filter((p) => p.server === 'mesh' || p === REFERENCE);
/** Pairings whose client is ours (client-side behaviour), and the reference. */
const MESH_CLIENT = BOTH_ENDS.filter((p) => p.client === 'mesh' || p === REFERENCE);

type Events = string[];

// ---- resets

for (const p of MESH_SERVER) {
  for (const method of ['GET', 'POST'] as const) {
    const when = method === 'GET' ? 'the request complete' : 'the request body still open';
    test(`${nameOf(p)}: client close(CANCEL) mid-response, ${when}: the server stream emits 'aborted' then 'close'`, async (t) => {
      let serverSide: Promise<{ events: Events; rstCode: number | undefined }> | undefined;
      const { client } = await startPair(t, p, (stream) => {
        const events = recordEvents(stream, ['aborted', 'error', 'close']);
        serverSide = nextEvent(stream, 'close').then(() => ({ events, rstCode: stream.rstCode }));
        stream.resume();
        stream.respond({ ':status': 200 });
        stream.write('first chunk');
      });
      const stream = client.request(requestHeaders(p.transport, method, '/slow'), { endStream: method === 'GET' });
      if (method === 'POST') stream.write('part of a body');
      const clientEvents = recordEvents(stream, ['error', 'close']);
      await within(nextEvent(stream, 'data'), 10_000, 'first response bytes');
      stream.close(Code.CANCEL);
      await within(nextEvent(stream, 'close'), 10_000, "client stream's close");
      assert.deepEqual(clientEvents, ['close'], 'a CANCEL we sent is no error');
      assert.equal(stream.rstCode, Code.CANCEL);
      const s = await within(serverSide!, 10_000, "server stream's close");
      assert.deepEqual(s.events, ['aborted', 'close']);
      assert.equal(s.rstCode, Code.CANCEL);
    });
  }
}

for (const p of MESH_CLIENT) {
  test(`${nameOf(p)}: server close(REFUSED_STREAM): the client stream emits 'error' ERR_HTTP2_STREAM_ERROR then 'close', rstCode 7; the session goes on`, async (t) => {
    const { client } = await startPair(t, p, (stream, headers) => {
      if (headers[':path'] === '/refuse') {
        stream.on('error', () => {}); // node:http2 also reports an error code it sent itself as 'error'
        stream.close(Code.REFUSED_STREAM);
        return;
      }
      stream.respond({ ':status': 200 });
      stream.end('fine');
    });
    const stream = client.request(requestHeaders(p.transport, 'GET', '/refuse'), { endStream: true });
    const events = recordEvents(stream, ['error', 'close']);
    let message = '';
    stream.once('error', (err: Error) => (message = err.message));
    await within(nextEvent(stream, 'close'), 10_000, "client stream's close");
    assert.deepEqual(events, ['error:ERR_HTTP2_STREAM_ERROR', 'close']);
    assert.match(message, /NGHTTP2_REFUSED_STREAM/);
    assert.equal(stream.rstCode, Code.REFUSED_STREAM);
    const next = await within(collect(client.request(requestHeaders(p.transport, 'GET', '/next'), { endStream: true })), 10_000, 'next response');
    assert.equal(next.body.toString(), 'fine');
  });

  test(`${nameOf(p)}: server close(CANCEL), before and after the response head: the client stream closes without 'error', rstCode 8`, async (t) => {
    let held: ServerStreamLike | undefined;
    const { client } = await startPair(t, p, (stream, headers) => {
      stream.resume();
      if (headers[':path'] === '/cancel-now') {
        stream.close(Code.CANCEL);
        return;
      }
      held = stream;
      stream.respond({ ':status': 200 });
      stream.write('partial');
    });
    const now = client.request(requestHeaders(p.transport, 'GET', '/cancel-now'), { endStream: true });
    const nowEvents = recordEvents(now, ['response', 'error', 'close']);
    now.resume();
    await within(nextEvent(now, 'close'), 10_000, 'close of /cancel-now');
    assert.deepEqual(nowEvents, ['close']);
    assert.equal(now.rstCode, Code.CANCEL);

    // node:http2's server ends a stream with NO_ERROR rather than CANCEL once it has written to it: the second half is ours only.
    if (p.server !== 'mesh') return;
    const mid = client.request(requestHeaders(p.transport, 'GET', '/cancel-mid'), { endStream: true });
    const midEvents = recordEvents(mid, ['response', 'error', 'close']);
    await within(nextEvent(mid, 'data'), 10_000, 'first response bytes');
    held!.close(Code.CANCEL);
    await within(nextEvent(mid, 'close'), 10_000, 'close of /cancel-mid');
    assert.deepEqual(midEvents, ['response', 'close']);
    assert.equal(mid.rstCode, Code.CANCEL);
  });
}

// ---- the end of a session

for (const p of BOTH_ENDS) {
  test(`${nameOf(p)}: server session.close(): GOAWAY, the stream in flight finishes both ways, a new request is refused, then the connection closes`, async (t) => {
    let sawStream!: () => void;
    const streamSeen = new Promise<void>((r) => (sawStream = r));
    const { client, server } = await startPair(t, p, (stream, _headers, conn) => {
      conn.close();
      sawStream();
      void readAll(stream).then((body) => {
        stream.respond({ ':status': 200 });
        stream.end(`echo ${body}`);
      });
    });
    const goaway = nextEvent<number>(client.session, 'goaway');
    const stream = client.request(requestHeaders(p.transport, 'POST', '/in-flight'), { endStream: false });
    const response = collect(stream);
    stream.write('early ');
    await within(streamSeen, 10_000, 'the stream at the server');
    assert.equal(await within(goaway, 10_000, "the client session's 'goaway'"), Code.NO_ERROR);
    // A request after GOAWAY: request() throws, or the stream fails without an answer.
    let late: string;
    try {
      late = await within(
        collect(client.request(requestHeaders(p.transport, 'GET', '/late'), { endStream: true })).then(
          () => 'answered',
          (err: { code?: string; message: string }) => `failed: ${err.code ?? err.message}`,
        ),
        10_000,
        'the late request',
      );
    } catch (err) {
      late = `threw ${(err as { code?: string }).code}`;
    }
    assert.notEqual(late, 'answered');
    stream.end('late');
    const r = await within(response, 10_000, 'the in-flight response');
    assert.equal(r.body.toString(), 'echo early late');
    await within(client.closed, 10_000, "the client session's close");
    await within(server.conns[0]!.closed, 10_000, "the server session's close");
  });
}

// node:http2's client closes such a stream without 'error': this expectation is for our engine only.
for (const p of MESH_CLIENT.filter((x) => x !== REFERENCE)) {
  test(`${nameOf(p)}: the server's socket destroyed mid-response: the client stream emits 'error' then 'close', the session 'close'`, async (t) => {
    let conn: ServerConn | undefined;
    const { client } = await startPair(t, p, (stream, _headers, c) => {
      conn = c;
      stream.on('error', () => {});
      stream.respond({ ':status': 200 });
      stream.write('partial');
    });
    const stream = client.request(requestHeaders(p.transport, 'GET', '/'), { endStream: true });
    const events = recordEvents(stream, ['error', 'close']);
    await within(nextEvent(stream, 'data'), 10_000, 'first response bytes');
    conn!.destroySocket();
    await within(nextEvent(stream, 'close'), 10_000, "client stream's close");
    assert.equal(events.length, 2, events.join(' '));
    assert.match(events[0]!, /^error:/);
    assert.equal(events[1], 'close');
    await within(client.closed, 10_000, "the client session's close");
  });
}

for (const p of MESH_SERVER) {
  test(`${nameOf(p)}: the client's socket destroyed mid-response: the server stream emits 'aborted' and 'close', the session 'close'`, async (t) => {
    let serverSide: Promise<Events> | undefined;
    const { client, server } = await startPair(t, p, (stream) => {
      const events = recordEvents(stream, ['aborted', 'close']);
      stream.on('error', () => {});
      serverSide = nextEvent(stream, 'close').then(() => events);
      stream.respond({ ':status': 200 });
      stream.write('partial');
    });
    const stream = client.request(requestHeaders(p.transport, 'GET', '/'), { endStream: true });
    stream.on('error', () => {});
    await within(nextEvent(stream, 'data'), 10_000, 'first response bytes');
    client.socket.destroy();
    assert.deepEqual(await within(serverSide!, 10_000, "server stream's close"), ['aborted', 'close']);
    await within(server.conns[0]!.closed, 10_000, "the server session's close");
  });
}

test('mesh server: a PING that arrives after its graceful close() is no error: GOAWAY NO_ERROR, then close without error', async (t) => {
  const { server, peer } = await rawToMeshServer(t);
  await within(peer.frame((f) => f.type === FrameType.SETTINGS && f.flags === 0x1, 'SETTINGS ACK'), 10_000, 'SETTINGS ACK');
  server.conns[0]!.close();
  // Sent after close() returned: it reaches a session whose socket has ended its writing side.
  peer.send(h2Frame(FrameType.PING, 0, 0, Buffer.from('late....')));
  const goaway = await within(peer.frame((f) => f.type === FrameType.GOAWAY, 'GOAWAY'), 10_000, 'GOAWAY');
  assert.equal(goawayCode(goaway), Code.NO_ERROR);
  await within(server.conns[0]!.closed, 10_000, "the server session's close");
  assert.deepEqual(server.conns[0]!.errors.map((e) => (e as { code?: string }).code ?? e.message), []);
});

test('mesh client: a PING right behind a GOAWAY that ends an idle connection is no error', async (t) => {
  const raw = await rawServer(t);
  const client = startClient(t, 'mesh', 'tcp', raw.port);
  const peer = await raw.peer;
  peer.send(h2Frame(FrameType.SETTINGS, 0, 0));
  await within(peer.frame((f) => f.type === FrameType.SETTINGS && f.flags === 0x1, 'SETTINGS ACK'), 10_000, 'SETTINGS ACK');
  // No stream open: the GOAWAY ends the client's side of the connection, and the PING comes in the same read.
  peer.send(h2Frame(FrameType.GOAWAY, 0, 0, u32(0, Code.NO_ERROR)), h2Frame(FrameType.PING, 0, 0, Buffer.from('behind..')));
  await within(peer.ended, 10_000, 'the client ending the connection');
  peer.socket.end();
  await within(client.closed, 10_000, "the client session's close");
  assert.deepEqual(client.errors.map((e) => (e as { code?: string }).code ?? e.message), []);
});

test('mesh client: GOAWAY with last stream 1 while streams 1 and 3 are open: 3 fails with REFUSED_STREAM, 1 completes, then the connection ends', async (t) => {
  const raw = await rawServer(t);
  const client = startClient(t, 'mesh', 'tcp', raw.port);
  const goaway = new Promise<[number, number]>((r) => client.on('goaway', (code: number, last: number) => r([code, last])));
  const first = client.request(requestHeaders('tcp', 'GET', '/one'), { endStream: true });
  const second = client.request(requestHeaders('tcp', 'GET', '/two'), { endStream: true });
  const firstDone = collect(first);
  const secondEvents = recordEvents(second, ['error', 'close']);
  const secondClosed = nextEvent(second, 'close');
  const peer = await raw.peer;
  peer.send(h2Frame(FrameType.SETTINGS, 0, 0));
  await within(peer.frame((f) => f.type === FrameType.HEADERS && f.stream === 3, 'HEADERS of stream 3'), 10_000, 'both requests');
  peer.send(h2Frame(FrameType.GOAWAY, 0, 0, u32(1, Code.NO_ERROR)), h2Frame(FrameType.HEADERS, 0x4 | 0x1, 1, STATUS_200_BLOCK));
  assert.deepEqual(await within(goaway, 10_000, "'goaway'"), [Code.NO_ERROR, 1]);
  const r = await within(firstDone, 10_000, 'response to stream 1');
  assert.equal(Number(r.headers[':status']), 200);
  await within(secondClosed, 10_000, 'close of stream 3');
  assert.deepEqual(secondEvents, ['error:ERR_HTTP2_STREAM_ERROR', 'close']);
  assert.equal(second.rstCode, Code.REFUSED_STREAM);
  await within(peer.ended, 10_000, 'the client ending the connection');
  assert.throws(() => client.request(requestHeaders('tcp', 'GET', '/three'), { endStream: true }), /GOAWAY|destroyed/);
});

// ---- trailers sent later

for (const p of MESH_SERVER) {
  test(`${nameOf(p)}: trailers sent from 'wantTrailers' later (once the client answers) still arrive, after the whole body`, async (t) => {
    const BODY = MiB + 1000;
    const { client } = await startPair(t, p, (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      // The status is known only once the client has said it read the body (as a gRPC server that waits on
      // something): sendTrailers() comes after 'wantTrailers', not inside it.
      stream.on('wantTrailers', () => stream.once('data', () => stream.sendTrailers({ 'grpc-status': '0', 'x-late': 'yes' })));
      stream.end(Buffer.alloc(BODY, 7));
    });
    const stream = client.request(requestHeaders(p.transport, 'POST', '/late-trailers', { te: 'trailers' }), { endStream: false });
    const response = collect(stream);
    let read = 0;
    stream.on('data', (c: Buffer) => {
      read += c.length;
      if (read === BODY) stream.end('read it all');
    });
    const r = await within(response, 10_000, 'the response');
    assert.equal(r.body.length, BODY);
    assert.ok(r.trailers, 'trailers arrived');
    assert.equal(r.trailers['grpc-status'], '0');
    assert.equal(r.trailers['x-late'], 'yes');
  });
}

for (const p of MESH_SERVER) {
  test(`${nameOf(p)}: respond({ waitForTrailers }), end(), then a 'wantTrailers' listener in the same turn: the trailers arrive`, async (t) => {
    const { client } = await startPair(t, p, (stream) => {
      stream.resume();
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.end('body');
      // node:http2 emits 'wantTrailers' once the last DATA frame is out, never inside end().
      stream.once('wantTrailers', () => stream.sendTrailers({ 'x-status': 'done' }));
    });
    const r = await within(collect(client.request(requestHeaders(p.transport, 'GET', '/', { te: 'trailers' }), { endStream: true })), 10_000, 'the response');
    assert.equal(r.body.toString(), 'body');
    assert.equal(r.trailers?.['x-status'], 'done');
  });
}

// ---- limits

test('mesh client → mesh server: streams over SETTINGS_MAX_CONCURRENT_STREAMS are refused with REFUSED_STREAM, the others answered', async (t) => {
  const p: Pairing = { client: 'mesh', server: 'mesh', transport: 'tcp' };
  const open: ServerStreamLike[] = [];
  const { client } = await startPair(t, p, (stream) => {
    stream.resume();
    open.push(stream);
  }, { server: { mesh: { maxConcurrentStreams: 5 } } });
  // Our client does not wait for room: all 8 go out at once, and the server holds the first 5 open.
  const streams = Array.from({ length: 8 }, (_, i) => client.request(requestHeaders('tcp', 'GET', `/c/${i}`), { endStream: true }));
  const outcomes = streams.map((s) => collect(s).then((r) => `answered ${r.body}`, (err: { code?: string }) => `failed ${err.code} rstCode ${s.rstCode}`));
  const refused = outcomes.slice(5);
  assert.deepEqual(await within(Promise.all(refused), 10_000, 'the refusals'), Array(3).fill(`failed ERR_HTTP2_STREAM_ERROR rstCode ${Code.REFUSED_STREAM}`));
  for (const s of open) {
    s.respond({ ':status': 200 });
    s.end('ok');
  }
  assert.deepEqual(await within(Promise.all(outcomes.slice(0, 5)), 10_000, 'the answers'), Array(5).fill('answered ok'));
});

test('node:http2 client → mesh server: the client keeps to the SETTINGS_MAX_CONCURRENT_STREAMS we announce', async (t) => {
  const p: Pairing = { client: 'node', server: 'mesh', transport: 'tcp' };
  let open = 0;
  let most = 0;
  const waiting: ServerStreamLike[] = [];
  // Answering a request that has ended completes its stream there and then: `open` counts what the server holds.
  const answer = (s: ServerStreamLike): void => {
    open--;
    s.respond({ ':status': 200 });
    s.end('ok');
  };
  const { client } = await startPair(t, p, (stream) => {
    stream.resume();
    most = Math.max(most, ++open);
    // Held until 5 are open at once; after that each is answered as it comes.
    if (waiting.length === 5) return answer(stream);
    waiting.push(stream);
    if (waiting.length === 5) for (const s of waiting) answer(s);
  }, { server: { mesh: { maxConcurrentStreams: 5 } } });
  // Requests made once the client knows the limit (before, node:http2 assumes 100).
  await within(nextEvent(client.session, 'remoteSettings'), 10_000, "the server's SETTINGS");
  const all = Array.from({ length: 8 }, (_, i) => collect(client.request(requestHeaders('tcp', 'GET', `/c/${i}`), { endStream: true })));
  const rs = await within(Promise.all(all), 10_000, 'eight answers');
  assert.ok(rs.every((r) => r.body.toString() === 'ok'));
  assert.equal(most, 5);
});

test('mesh client → mesh server: a request head over the header list limit is refused on its stream; the session goes on', async (t) => {
  const p: Pairing = { client: 'mesh', server: 'mesh', transport: 'tcp' };
  const { client } = await startPair(t, p, (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  }, { server: { mesh: { maxHeaderListSize: 16 * 1024 } } });
  const big = client.request(requestHeaders('tcp', 'GET', '/big', { 'x-big': 'a'.repeat(20_000) }), { endStream: true });
  const outcome = await within(collect(big).then(() => 'answered', (err: { code?: string }) => `failed ${err.code}`), 10_000, 'the big request');
  assert.equal(outcome, 'failed ERR_HTTP2_STREAM_ERROR');
  assert.equal(big.rstCode, Code.PROTOCOL_ERROR);
  const r = await within(collect(client.request(requestHeaders('tcp', 'GET', '/small'), { endStream: true })), 10_000, 'the next request');
  assert.equal(r.body.toString(), 'ok');
});

// ---- a client that ends

for (const p of BOTH_ENDS.filter((x) => x.client === 'mesh')) {
  test(`${nameOf(p)}: client session.close(): the stream in flight finishes, request() then throws, the connection closes`, async (t) => {
    const { client, server } = await startPair(t, p, (stream) => {
      void readAll(stream).then((b) => {
        stream.respond({ ':status': 200 });
        stream.end(`echo ${b}`);
      });
    });
    const stream = client.request(requestHeaders(p.transport, 'POST', '/'), { endStream: false });
    const response = collect(stream);
    stream.write('before ');
    client.close();
    assert.throws(() => client.request(requestHeaders(p.transport, 'GET', '/after'), { endStream: true }), { code: 'ERR_HTTP2_INVALID_SESSION' });
    stream.end('after close()');
    assert.equal((await within(response, 10_000, 'the in-flight response')).body.toString(), 'echo before after close()');
    await within(client.closed, 10_000, "the client session's close");
    await within(server.conns[0]!.closed, 10_000, "the server session's close");
    assert.deepEqual(client.errors, []);
  });
}

test('mesh client to a port nothing listens on: the session emits the connect error and close; its stream fails with ERR_HTTP2_STREAM_CANCEL', async (t) => {
  const port = await closedPort();
  const client = startClient(t, 'mesh', 'tcp', port);
  const sessionEvents = recordEvents(client.session, ['connect', 'error', 'close']);
  const stream = client.request(requestHeaders('tcp', 'GET', '/'), { endStream: true });
  let failure: { code?: string; cause?: { code?: string } } | undefined;
  stream.once('error', (err: typeof failure) => (failure = err));
  const closed = nextEvent(stream, 'close');
  await within(client.closed, 10_000, "the session's close");
  assert.deepEqual(sessionEvents, ['error:ECONNREFUSED', 'close']);
  await within(closed, 10_000, "the stream's close");
  assert.equal(failure?.code, 'ERR_HTTP2_STREAM_CANCEL');
  assert.equal(failure?.cause?.code, 'ECONNREFUSED');
});

// ---- protocol errors from a raw peer

const answerOk: StreamHandler = (stream) => {
  stream.respond({ ':status': 200 });
  stream.end('ok');
};

/** Our server, and a raw client that has sent the preface and an empty SETTINGS. */
async function rawToMeshServer(t: T, transport: 'tcp' | 'tls' = 'tcp', preface = true, onStream: StreamHandler = answerOk): Promise<{ server: TestServer; peer: RawPeer }> {
  const server = await startServer(t, 'mesh', transport, onStream);
  const peer = await rawClient(t, server.port, transport);
  if (preface) peer.send(H2_PREFACE, h2Frame(FrameType.SETTINGS, 0, 0));
  return { server, peer };
}

/** The connection closes with a GOAWAY of `code` as the last frame written. */
async function assertGoawayThenClose(peer: RawPeer, code: number): Promise<void> {
  const frames = await within(peer.closed, 10_000, 'the connection to close');
  const last = frames.at(-1);
  assert.ok(last && last.type === FrameType.GOAWAY, `GOAWAY last before the close; frames: ${describeFrames(frames)}`);
  assert.equal(goawayCode(last), code, describeFrames(frames));
}

test('mesh server: a client that does not send the connection preface is dropped', async (t) => {
  for (const [what, bytes] of [
    ['an HTTP/1.1 request', [Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')]],
    ['a preface gone wrong after its first bytes, split over writes', [H2_PREFACE.subarray(0, 10), Buffer.from('HTTP/1.1\r\n\r\nxxxxxxxxxxxxxx')]],
  ] as const) {
    const { server, peer } = await rawToMeshServer(t, 'tcp', false);
    for (const b of bytes) await new Promise<void>((r) => peer.socket.write(b, () => r()));
    await within(peer.closed, 10_000, `close after ${what}`);
    await within(server.conns[0]!.closed, 10_000, `session close after ${what}`);
    assert.deepEqual(server.conns[0]!.errors.map((e) => (e as { code?: string }).code), ['ERR_HTTP2_ERROR'], what);
  }
});

test('mesh server: the preface one byte at a time is still a preface: PING is answered', async (t) => {
  const { peer } = await rawToMeshServer(t, 'tcp', false);
  for (const byte of H2_PREFACE) await new Promise<void>((r) => peer.socket.write(Buffer.from([byte]), () => setImmediate(r)));
  const data = Buffer.from('preface!');
  peer.send(h2Frame(FrameType.SETTINGS, 0, 0), h2Frame(FrameType.PING, 0, 0, data));
  const ack = await within(peer.frame((f) => f.type === FrameType.PING, 'PING ACK'), 10_000, 'PING ACK');
  assert.equal(ack.flags, 0x1);
  assert.ok(ack.payload.equals(data));
});

for (const transport of ['tcp', 'tls'] as const) {
  test(`mesh server over ${transport.toUpperCase()}: a frame over 16384 bytes: GOAWAY FRAME_SIZE_ERROR, then the close`, async (t) => {
    const { server, peer } = await rawToMeshServer(t, transport);
    await within(peer.frame((f) => f.type === FrameType.SETTINGS && f.flags === 0x1, 'SETTINGS ACK'), 10_000, 'SETTINGS ACK');
    peer.send(h2Frame(FrameType.PING, 0, 0, Buffer.alloc(16_385)));
    await assertGoawayThenClose(peer, Code.FRAME_SIZE_ERROR);
    await within(server.conns[0]!.closed, 10_000, 'session close');
  });
}

test('mesh server: a HEADERS block that is not valid HPACK: GOAWAY COMPRESSION_ERROR, then the close', async (t) => {
  const { server, peer } = await rawToMeshServer(t);
  peer.send(h2Frame(FrameType.HEADERS, 0x4 | 0x1, 1, BAD_HPACK_BLOCK));
  await assertGoawayThenClose(peer, Code.COMPRESSION_ERROR);
  await within(server.conns[0]!.closed, 10_000, 'session close');
  assert.equal(server.conns[0]!.errors.length, 1);
});

test('mesh server: another frame inside a header block (HEADERS without END_HEADERS, then DATA): GOAWAY PROTOCOL_ERROR', async (t) => {
  const { peer } = await rawToMeshServer(t);
  peer.send(h2Frame(FrameType.HEADERS, 0, 1, POST_BLOCK), h2Frame(FrameType.DATA, 0, 1, Buffer.from('x')));
  await assertGoawayThenClose(peer, Code.PROTOCOL_ERROR);
});

test('mesh server: DATA beyond the stream window it announced: RST_STREAM FLOW_CONTROL_ERROR on that stream, the connection stays', async (t) => {
  // The stream is opened and never read: no 'data' listener, no answer; its bytes wait.
  const { peer } = await rawToMeshServer(t, 'tcp', true, () => {});
  const settings = await within(peer.frame((f) => f.type === FrameType.SETTINGS && f.flags === 0, "the server's SETTINGS"), 10_000, 'SETTINGS');
  let window = 65_535;
  for (let at = 0; at < settings.payload.length; at += 6) if (settings.payload.readUInt16BE(at) === 4) window = settings.payload.readUInt32BE(at + 2);
  // One byte more than the window.
  const frames = [h2Frame(FrameType.HEADERS, 0x4, 1, POST_BLOCK)];
  for (let left = window + 1; left > 0; left -= 16_384) frames.push(h2Frame(FrameType.DATA, 0, 1, Buffer.alloc(Math.min(16_384, left))));
  peer.send(...frames);
  const rst = await within(peer.frame((f) => f.type === FrameType.RST_STREAM && f.stream === 1, 'RST_STREAM on stream 1'), 10_000, 'RST_STREAM');
  assert.equal(rst.payload.readUInt32BE(0), Code.FLOW_CONTROL_ERROR);
  peer.send(h2Frame(FrameType.PING, 0, 0, Buffer.from('stillup!')));
  await within(peer.frame((f) => f.type === FrameType.PING && f.flags === 0x1, 'PING ACK'), 10_000, 'PING ACK');
});

// RFC 9113 §8.2.1-8.2.3: a request with such a field is malformed. node:http2 refuses the stream
// (RST_STREAM PROTOCOL_ERROR) or drops the field; either way the handler never sees it. It matters beyond
// HTTP/2: the proxy writes request heads to HTTP/1.1 apps verbatim (clusters/h1-connection.ts), so a CR LF
// that got through would be a header of its own there.
const literal = (name: string, value: string): Buffer =>
  Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name, 'latin1'), Buffer.from([value.length]), Buffer.from(value, 'latin1')]);
const MALFORMED: readonly [string, string, string][] = [
  ['CR LF in a value', 'x-evil', 'a\r\nx-injected: 1'],
  ['NUL in a value', 'x-evil', 'a\u0000b'],
  ['a value with leading whitespace', 'x-evil', ' padded'],
  ['an uppercase name', 'X-Upper', 'v'],
  ['a space in a name', 'x bad', 'v'],
  ['a colon inside a name', 'x:bad', 'v'],
  ['a connection-specific field', 'connection', 'close'],
  ['te other than trailers', 'te', 'gzip'],
  ['an unknown pseudo-header', ':foo', 'v'],
];

for (const engine of ['mesh', 'node'] as const) {
  test(`${engine === 'mesh' ? 'mesh server' : 'node:http2 server (reference)'}: a request head with a malformed field never reaches the handler with that field`, async (t) => {
    const delivered: Record<string, unknown>[] = [];
    const server = await startServer(t, engine, 'tcp', (stream, headers) => {
      delivered.push(headers);
      stream.resume();
      stream.respond({ ':status': 200 });
      stream.end();
    });
    const leaks: string[] = [];
    for (const [what, name, value] of MALFORMED) {
      delivered.length = 0;
      const peer = await rawClient(t, server.port);
      const barrier = Buffer.from('barrier!');
      peer.send(H2_PREFACE, h2Frame(FrameType.SETTINGS, 0, 0), h2Frame(FrameType.HEADERS, 0x4 | 0x1, 1, Buffer.concat([GET_BLOCK, literal(name, value)])), h2Frame(FrameType.PING, 0, 0, barrier));
      // Frames are handled in order: by the PING's ACK the handler has run, or never will (GOAWAY closes first).
      await peer.frame((f) => f.type === FrameType.PING && f.flags === 0x1, 'the barrier').catch(() => {});
      const h = delivered[0];
      if (h && (h[name] !== undefined || h[name.toLowerCase()] !== undefined)) leaks.push(`${what} (${JSON.stringify(name)}: ${JSON.stringify(h[name] ?? h[name.toLowerCase()])})`);
      peer.socket.destroy();
    }
    assert.deepEqual(leaks, [], 'delivered to the handler as sent');
  });
}

test('mesh client: a response head or trailers with a malformed field: the stream is reset (PROTOCOL_ERROR) and fails; no response event carries the field', async (t) => {
  for (const [what, name, value] of MALFORMED) {
    for (const where of ['head', 'trailers'] as const) {
      const { peer, stream } = await meshClientOnRawServer(t);
      const seen: Record<string, unknown>[] = [];
      stream.on('response', (h: Record<string, unknown>) => seen.push(h));
      stream.on('trailers', (h: Record<string, unknown>) => seen.push(h));
      const failed = new Promise<string>((resolve) => stream.on('error', (e: { code?: string }) => resolve(e.code ?? '')));
      if (where === 'head') peer.send(h2Frame(FrameType.HEADERS, 0x4, 1, Buffer.concat([STATUS_200_BLOCK, literal(name, value)])));
      else peer.send(h2Frame(FrameType.HEADERS, 0x4, 1, STATUS_200_BLOCK), h2Frame(FrameType.HEADERS, 0x4 | 0x1, 1, literal(name, value)));
      const rst = await within(peer.frame((f) => f.type === FrameType.RST_STREAM && f.stream === 1, `the reset for ${what} in the ${where}`), 10_000, 'the reset');
      assert.equal(rst.payload.readUInt32BE(0), Code.PROTOCOL_ERROR, `${what} in the ${where}`);
      assert.equal(await within(failed, 10_000, 'the stream error'), 'ERR_HTTP2_STREAM_ERROR');
      for (const h of seen) assert.equal(h[name] ?? h[name.toLowerCase()], undefined, `${what} in the ${where} reached the client`);
      peer.socket.destroy();
    }
  }
});

test('mesh server: a WINDOW_UPDATE that takes the connection window past 2^31-1: GOAWAY FLOW_CONTROL_ERROR', async (t) => {
  const { peer } = await rawToMeshServer(t);
  peer.send(h2Frame(FrameType.WINDOW_UPDATE, 0, 0, u32(2 ** 31 - 1)));
  await assertGoawayThenClose(peer, Code.FLOW_CONTROL_ERROR);
});

test('mesh server: SETTINGS whose length is not a multiple of 6: GOAWAY FRAME_SIZE_ERROR', async (t) => {
  const { peer } = await rawToMeshServer(t);
  peer.send(h2Frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(5)));
  await assertGoawayThenClose(peer, Code.FRAME_SIZE_ERROR);
});

/** Our client with one GET open on a raw server that has sent its SETTINGS. */
async function meshClientOnRawServer(t: T): Promise<{ peer: RawPeer; session: H2Session; stream: ReturnType<H2Session['request']>; sessionEvents: Events }> {
  const raw = await rawServer(t);
  const client = startClient(t, 'mesh', 'tcp', raw.port);
  const session = client.session as H2Session;
  const sessionEvents = recordEvents(session, ['error', 'close']);
  const stream = session.request(requestHeaders('tcp', 'GET', '/'), { endStream: true });
  stream.on('error', () => {});
  const peer = await raw.peer;
  peer.send(h2Frame(FrameType.SETTINGS, 0, 0));
  await within(peer.frame((f) => f.type === FrameType.HEADERS && f.stream === 1, 'the request'), 10_000, 'the request');
  return { peer, session, stream, sessionEvents };
}

test('mesh client: PUSH_PROMISE (push is disabled): GOAWAY PROTOCOL_ERROR, the session and its stream end with errors', async (t) => {
  const { peer, stream, sessionEvents } = await meshClientOnRawServer(t);
  const streamEvents = recordEvents(stream, ['error', 'close']);
  const streamClosed = nextEvent(stream, 'close');
  peer.send(h2Frame(FrameType.PUSH_PROMISE, 0x4, 1, Buffer.concat([u32(2), GET_BLOCK])));
  await assertGoawayThenClose(peer, Code.PROTOCOL_ERROR);
  assert.equal(sessionEvents[0]?.startsWith('error:'), true, sessionEvents.join(' '));
  assert.equal(sessionEvents.at(-1), 'close');
  await within(streamClosed, 10_000, "the stream's close");
  assert.equal(streamEvents.length, 2, streamEvents.join(' '));
  assert.match(streamEvents[0]!, /^error:/);
});

test('mesh client: a response HEADERS block that is not valid HPACK: GOAWAY COMPRESSION_ERROR', async (t) => {
  const { peer, sessionEvents } = await meshClientOnRawServer(t);
  peer.send(h2Frame(FrameType.HEADERS, 0x4, 1, BAD_HPACK_BLOCK));
  await assertGoawayThenClose(peer, Code.COMPRESSION_ERROR);
  assert.deepEqual(sessionEvents.map((e) => e.split(':')[0]), ['error', 'close']);
});

test('mesh server: padded HEADERS with a priority block, then padded DATA: read without the padding', async (t) => {
  let seen: { headers: Record<string, unknown>; body: string } | undefined;
  const { peer } = await rawToMeshServer(t, 'tcp', true, (stream, headers) => {
    void readAll(stream).then((b) => {
      seen = { headers, body: b.toString() };
      stream.respond({ ':status': 200 });
      stream.end();
    });
  });
  const pad = (n: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([n]), body, Buffer.alloc(n, 0xee)]);
  const priority = Buffer.from([0, 0, 0, 0, 15]); // depends on stream 0, weight 16
  peer.send(
    h2Frame(FrameType.HEADERS, 0x4 | 0x8 | 0x20, 1, pad(7, Buffer.concat([priority, POST_BLOCK]))),
    h2Frame(FrameType.DATA, 0x8, 1, pad(3, Buffer.from('hello '))),
    h2Frame(FrameType.DATA, 0x8 | 0x1, 1, pad(200, Buffer.from('world'))),
  );
  await within(peer.frame((f) => f.type === FrameType.HEADERS && f.stream === 1, 'the response'), 10_000, 'the response');
  assert.equal(seen?.headers[':method'], 'POST');
  assert.equal(seen?.headers[':path'], '/');
  assert.equal(seen?.body, 'hello world');
});

// ---- PING and SETTINGS

test('mesh server: PING answered with a PING ACK of the same 8 bytes; SETTINGS acknowledged; a PING ACK is not answered', async (t) => {
  const { peer } = await rawToMeshServer(t, 'tcp', false);
  peer.send(H2_PREFACE, h2Frame(FrameType.SETTINGS, 0, 0, settingsPayload([[4, 100_000], [5, 20_000], [3, 50]])));
  const first = await within(peer.frame(() => true, 'the first frame'), 10_000, 'the server preface');
  assert.equal(first.type, FrameType.SETTINGS, 'the server preface is a SETTINGS frame');
  assert.equal(first.flags, 0);
  await within(peer.frame((f) => f.type === FrameType.SETTINGS && f.flags === 0x1, 'SETTINGS ACK'), 10_000, 'SETTINGS ACK');
  const ack = peer.frames.find((f) => f.type === FrameType.SETTINGS && f.flags === 0x1)!;
  assert.equal(ack.payload.length, 0);
  // An ACK first (must not be answered), then a PING: the only PING back is that PING's ACK.
  peer.send(h2Frame(FrameType.PING, 0x1, 0, Buffer.from('ack-only')), h2Frame(FrameType.PING, 0, 0, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])));
  const pong = await within(peer.frame((f) => f.type === FrameType.PING, 'PING ACK'), 10_000, 'PING ACK');
  assert.equal(pong.flags, 0x1);
  assert.equal(pong.stream, 0);
  assert.deepEqual([...pong.payload], [1, 2, 3, 4, 5, 6, 7, 8]);
  // A second SETTINGS gets its own ACK.
  peer.send(h2Frame(FrameType.SETTINGS, 0, 0, settingsPayload([[1, 0]])), h2Frame(FrameType.PING, 0, 0, Buffer.from('barrier!')));
  await within(peer.frame((f) => f.type === FrameType.PING && f.payload.toString() === 'barrier!', 'the barrier PING ACK'), 10_000, 'barrier');
  assert.equal(peer.frames.filter((f) => f.type === FrameType.SETTINGS && f.flags === 0x1).length, 2);
  assert.equal(peer.frames.filter((f) => f.type === FrameType.PING).length, 2);
});

test('mesh client: its preface then SETTINGS; PING from the server answered with the same 8 bytes; SETTINGS acknowledged', async (t) => {
  const raw = await rawServer(t);
  const client = startClient(t, 'mesh', 'tcp', raw.port);
  const peer = await raw.peer;
  const settings = await within(peer.frame(() => true, "the client's first frame"), 10_000, 'client SETTINGS');
  assert.ok(Buffer.concat(peer.received).subarray(0, H2_PREFACE.length).equals(H2_PREFACE), 'the connection preface first');
  assert.equal(settings.type, FrameType.SETTINGS);
  const values = new Map<number, number>();
  for (let at = 0; at < settings.payload.length; at += 6) values.set(settings.payload.readUInt16BE(at), settings.payload.readUInt32BE(at + 2));
  assert.equal(values.get(2), 0, 'ENABLE_PUSH 0');
  peer.send(h2Frame(FrameType.SETTINGS, 0, 0, settingsPayload([[4, 1 << 20]])), h2Frame(FrameType.PING, 0, 0, Buffer.from('12345678')));
  const pong = await within(peer.frame((f) => f.type === FrameType.PING, 'PING ACK'), 10_000, 'PING ACK');
  assert.equal(pong.flags, 0x1);
  assert.equal(pong.payload.toString(), '12345678');
  assert.ok(peer.frames.some((f) => f.type === FrameType.SETTINGS && f.flags === 0x1 && f.payload.length === 0), 'SETTINGS ACK');
  assert.equal(client.errors.length, 0);
});

// ---- ALPN

for (const [what, serverAlpn, clientAlpn] of [
  ['chooses no protocol', undefined, ['h2']],
  ['chooses http/1.1', ['http/1.1'], ['h2', 'http/1.1']],
] as const) {
  test(`mesh client over TLS to a server that ${what}: the session emits 'error' ERR_HTTP2_ERROR and 'close'; its streams fail`, async (t) => {
    const server = tls.createServer({ ...testCert(), ...(serverAlpn ? { ALPNProtocols: [...serverAlpn] } : {}) }, (s) => {
      s.on('error', () => {});
      s.resume();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => server.close());
    const socket = connectSocket('tls', (server.address() as { port: number }).port, [...clientAlpn]);
    t.after(() => socket.destroy());
    const session = new H2Session(socket, false);
    const sessionEvents = recordEvents(session, ['connect', 'error', 'close']);
    const stream = session.request(requestHeaders('tls', 'GET', '/'), { endStream: true });
    const streamEvents = recordEvents(stream, ['response', 'error', 'close']);
    const streamClosed = nextEvent(stream, 'close');
    await within(nextEvent(session, 'close'), 10_000, "the session's close");
    assert.deepEqual(sessionEvents, ['error:ERR_HTTP2_ERROR', 'close']);
    await within(streamClosed, 10_000, "the stream's close");
    assert.equal(streamEvents.length, 2, streamEvents.join(' '));
    assert.match(streamEvents[0]!, /^error:ERR_HTTP2_/);
    assert.throws(() => session.request(requestHeaders('tls', 'GET', '/again'), { endStream: true }), { code: 'ERR_HTTP2_INVALID_SESSION' });
  });
}
