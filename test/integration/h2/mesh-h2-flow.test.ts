// Flow control and backpressure in the mesh HTTP/2 engine (src/proxy/h2/) on
// real sockets: 64 MiB each way through one stream whose readers pause, many
// streams sharing the 16 MiB connection window, a paused stream that must not
// hold up the others, and connection credit given back for bytes a stream
// held unread when it ended.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable, Writable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import http2 from 'node:http2';
import {
  Code,
  H2_PREFACE,
  MiB,
  collect,
  frameParser,
  pairingName,
  readAll,
  requestHeaders,
  startPair,
  within,
  type Pairing,
  type ServerStreamLike,
  type StreamLike,
} from './h2-engine-harness.ts';

// A full collection before each memory reading, so the figures are what is live, not garbage not yet collected.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Our engine at one end or both, over TCP, and both ends ours over TLS. */
const FLOW: readonly Pairing[] = [
  { client: 'mesh', server: 'mesh', transport: 'tcp' },
  { client: 'mesh', server: 'mesh', transport: 'tls' },
  { client: 'mesh', server: 'node', transport: 'tcp' },
  { client: 'node', server: 'mesh', transport: 'tcp' },
];

/** How long a paused reader holds still: the scenario, not a wait for something to happen. */
const HOLD_MS = 500;

async function memory(): Promise<{ rss: number; buffers: number }> {
  // Twice, a turn apart: the buffers of streams closed just before are freed in a second pass.
  gc();
  await new Promise((r) => setImmediate(r));
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, buffers: m.arrayBuffers + m.external };
}

const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;

/** Resolves on 'drain'; rejects if the stream closes first. Removes its listeners either way. */
function drained(stream: StreamLike): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      stream.removeListener('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      stream.removeListener('drain', onDrain);
      reject(new Error(`stream closed while waiting for 'drain' (rstCode ${stream.rstCode})`));
    };
    stream.once('drain', onDrain);
    stream.once('close', onClose);
  });
}

interface Sender {
  bytes: number;
  hash: Hash;
  writeFalse: number;
  drains: number;
  /** write() returned false and 'drain' has not come yet. */
  blocked: boolean;
}

/** Writes `total` random bytes in 64 KiB chunks, waiting for 'drain' whenever write() says so, then ends. */
async function pump(stream: StreamLike, total: number, s: Sender): Promise<void> {
  const CHUNK = 64 * 1024;
  stream.on('drain', () => s.drains++);
  while (s.bytes < total) {
    const chunk = randomBytes(Math.min(CHUNK, total - s.bytes));
    s.hash.update(chunk);
    s.bytes += chunk.length;
    if (!stream.write(chunk)) {
      s.writeFalse++;
      s.blocked = true;
      await drained(stream);
      s.blocked = false;
    }
  }
  stream.end();
}

const newSender = (): Sender => ({ bytes: 0, hash: createHash('sha256'), writeFalse: 0, drains: 0, blocked: false });

/** A pause() with reasons: the stream flows again when the last reason is gone. */
function holder(stream: StreamLike): { hold(why: string): void; release(why: string): void } {
  const reasons = new Set<string>();
  return {
    hold: (why) => {
      reasons.add(why);
      stream.pause();
    },
    release: (why) => {
      reasons.delete(why);
      if (reasons.size === 0) stream.resume();
    },
  };
}

/** Echoes a stream's body into its response, with backpressure both ways; `onData` sees each chunk first. */
function echo(stream: ServerStreamLike, out: Sender, onData?: (chunk: Buffer, h: ReturnType<typeof holder>) => void): void {
  const h = holder(stream);
  stream.respond({ ':status': 200 });
  stream.on('drain', () => {
    out.drains++;
    out.blocked = false;
    h.release('drain');
  });
  stream.on('data', (chunk: Buffer) => {
    out.bytes += chunk.length;
    out.hash.update(chunk);
    if (!stream.write(chunk)) {
      out.writeFalse++;
      out.blocked = true;
      h.hold('drain');
    }
    onData?.(chunk, h);
  });
  stream.on('end', () => stream.end());
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

for (const p of FLOW) {
  const name = pairingName(p);

  test(`${name}: 64 MiB each way through one stream whose readers pause: complete, in order, senders held back, memory bounded`, { timeout: 180_000 }, async (t) => {
    const TOTAL = 64 * MiB;
    const SERVER_PAUSES_AT = 8 * MiB;
    const CLIENT_PAUSES_AT = 24 * MiB;
    const base = await memory();
    const echoed = newSender();
    const serverPaused = deferred();
    const serverRelease = deferred();
    const { client } = await startPair(t, p, (stream) => {
      let paused = false;
      echo(stream, echoed, (_chunk, h) => {
        if (paused || echoed.bytes < SERVER_PAUSES_AT) return;
        paused = true;
        h.hold('test');
        serverPaused.resolve();
        void serverRelease.promise.then(() => h.release('test'));
      });
    });
    const stream = client.request(requestHeaders(p.transport, 'POST', '/echo'), { endStream: false });
    const sent = newSender();
    const got = { bytes: 0, hash: createHash('sha256') };
    const clientPaused = deferred();
    const clientRelease = deferred();
    let clientHeld = false;
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (chunk: Buffer) => {
        got.bytes += chunk.length;
        got.hash.update(chunk);
        if (clientHeld || got.bytes < CLIENT_PAUSES_AT) return;
        clientHeld = true;
        stream.pause();
        clientPaused.resolve();
        void clientRelease.promise.then(() => stream.resume());
      });
      stream.once('end', resolve);
      stream.once('error', reject);
      stream.once('close', () => reject(new Error(`closed before the end: ${mib(got.bytes)} of ${mib(TOTAL)} back (rstCode ${stream.rstCode})`)));
    });
    const pumped = pump(stream, TOTAL, sent);

    // Each reader holds still in turn (the server's at 8 MiB, then the client's at 24 MiB): its writer may run
    // ahead of it by no more than the windows, and is told to wait.
    const hold = async (who: string, paused: Promise<void>, release: () => void, writer: { bytes: number; blocked: boolean }, reader: { bytes: number }) => {
      await within(paused, 60_000, `the ${who} reader pausing`);
      await sleep(HOLD_MS);
      const ahead = writer.bytes - reader.bytes;
      const blocked = writer.blocked;
      const m = await memory();
      release();
      assert.ok(blocked, `the writer to the ${who} said to wait while its reader was paused (${mib(writer.bytes)} written)`);
      assert.ok(ahead < 8 * MiB, `written ahead of the paused ${who} reader: ${mib(ahead)}`);
      return { ...m, ahead };
    };
    const m1 = await hold('server', serverPaused.promise, serverRelease.resolve, sent, echoed);
    const m2 = await hold('client', clientPaused.promise, clientRelease.resolve, echoed, got);

    await within(Promise.all([pumped, ended]), 120_000, 'the whole body both ways');
    assert.equal(sent.bytes, TOTAL);
    assert.equal(echoed.bytes, TOTAL, 'the server read it all');
    assert.equal(got.bytes, TOTAL, 'the client read it all back');
    const digest = sent.hash.digest('hex');
    assert.equal(echoed.hash.digest('hex'), digest, 'the server read the bytes sent, in order');
    assert.equal(got.hash.digest('hex'), digest, 'the client read them back, in order');
    assert.ok(sent.writeFalse > 0 && sent.drains > 0, `client: write() false ${sent.writeFalse} times, 'drain' ${sent.drains}`);
    assert.ok(echoed.writeFalse > 0 && echoed.drains > 0, `server: write() false ${echoed.writeFalse} times, 'drain' ${echoed.drains}`);
    for (const [when, m] of [['server reader paused', m1], ['client reader paused', m2]] as const) {
      t.diagnostic(`${when}: RSS ${mib(m.rss - base.rss)}, buffers ${mib(m.buffers - base.buffers)} over the start; writer ahead by ${mib(m.ahead)}`);
      assert.ok(m.rss - base.rss < 64 * MiB, `RSS grew ${mib(m.rss - base.rss)} while the ${when}`);
      assert.ok(m.buffers - base.buffers < 64 * MiB, `buffers grew ${mib(m.buffers - base.buffers)} while the ${when}`);
    }
  });

  test(`${name}: 40 streams at once, 1 MiB each way apiece, share the 16 MiB connection window`, { timeout: 120_000 }, async (t) => {
    const N = 40;
    const SIZE = MiB;
    const arrived: { resume(): unknown }[] = [];
    const { client } = await startPair(t, p, (stream) => {
      // Every stream waits until all N are open, so their bodies compete for the connection window at once.
      stream.pause();
      echo(stream, newSender());
      stream.pause();
      arrived.push(stream);
      if (arrived.length === N) for (const s of arrived) s.resume();
    });
    const results = [];
    for (let i = 0; i < N; i++) {
      const stream = client.request(requestHeaders(p.transport, 'POST', `/s/${i}`), { endStream: false });
      const sent = newSender();
      const back = createHash('sha256');
      stream.on('data', (c: Buffer) => back.update(c));
      const response = collect(stream);
      results.push(Promise.all([response, pump(stream, SIZE, sent)]).then(([r]) => ({ r, sent: sent.hash.digest('hex'), back: back.digest('hex') })));
    }
    const all = await within(Promise.all(results), 100_000, `${N} echoes`);
    all.forEach(({ r, sent, back }, i) => {
      assert.equal(r.body.length, SIZE, `stream ${i}`);
      assert.equal(back, sent, `stream ${i} echoed in order`);
    });
  });

  test(`${name}: a stream whose reader is paused does not hold up another on the same session`, { timeout: 60_000 }, async (t) => {
    const releaseHeld = deferred();
    const { client } = await startPair(t, p, (stream, headers) => {
      if (headers[':path'] === '/held') {
        stream.pause();
        void releaseHeld.promise.then(() => {
          void readAll(stream).then((b) => {
            stream.respond({ ':status': 200 });
            stream.end(String(b.length));
          });
          stream.resume(); // a 'data' listener does not restart a stream paused by hand
        });
        return;
      }
      echo(stream, newSender());
    });
    const held = client.request(requestHeaders(p.transport, 'POST', '/held'), { endStream: false });
    const heldResponse = collect(held);
    const heldSent = newSender();
    const heldPump = pump(held, 4 * MiB, heldSent);
    // The other stream moves 8 MiB each way while the first is stuck at its window.
    const other = client.request(requestHeaders(p.transport, 'POST', '/other'), { endStream: false });
    const otherSent = newSender();
    const otherBack = createHash('sha256');
    other.on('data', (c: Buffer) => otherBack.update(c));
    const [r] = await within(Promise.all([collect(other), pump(other, 8 * MiB, otherSent)]), 30_000, 'the other stream, while the first is paused');
    assert.equal(r.body.length, 8 * MiB);
    assert.equal(otherBack.digest('hex'), otherSent.hash.digest('hex'));
    assert.ok(heldSent.blocked, 'the paused stream’s sender is still held back');
    assert.ok(heldSent.bytes < 4 * MiB);
    releaseHeld.resolve();
    const [h] = await within(Promise.all([heldResponse, heldPump]), 30_000, 'the paused stream, once released');
    assert.equal(h.body.toString(), String(4 * MiB));
  });
}

// Bytes a stream received and never handed to its reader still count against the connection window until
// the receiver says otherwise (RFC 9113 §6.9): when such a stream ends they must be credited back, or each one
// takes up to a stream window (1 MiB) of the 16 MiB shared by every stream, for the life of the connection.
for (const transport of ['tcp', 'tls'] as const) {
  for (const how of ['reset with CANCEL', 'answered without reading the body'] as const) {
    test(`mesh client → mesh server over ${transport.toUpperCase()}: 16 streams holding 1 MiB unread each, ${how}: the connection window reopens for the next request`, { timeout: 60_000 }, async (t) => {
      const p: Pairing = { client: 'mesh', server: 'mesh', transport };
      const held: ServerStreamLike[] = [];
      const { client } = await startPair(t, p, (stream, headers) => {
        stream.on('error', () => {});
        switch (headers[':path']) {
          case '/warm-up':
            stream.respond({ ':status': 200 });
            stream.end();
            return;
          case '/hold':
            held.push(stream); // no 'data' listener: the body waits in the stream, unread
            return;
          case '/barrier':
            for (const h of held) {
              if (how === 'reset with CANCEL') h.close(Code.CANCEL);
              else {
                h.respond({ ':status': 413 });
                h.end();
              }
            }
            stream.respond({ ':status': 200 });
            stream.end(String(held.length));
            return;
          default:
            void readAll(stream).then((b) => {
              stream.respond({ ':status': 200 });
              stream.end(String(b.length));
            });
        }
      });
      // After one exchange the client has the server's SETTINGS (1 MiB stream windows) and its 16 MiB connection window.
      await within(collect(client.request(requestHeaders(transport, 'GET', '/warm-up'), { endStream: true })), 10_000, 'warm-up');
      for (let i = 0; i < 16; i++) {
        const s = client.request(requestHeaders(transport, 'POST', '/hold'), { endStream: false });
        s.on('error', () => {});
        s.resume();
        s.end(randomBytes(MiB));
      }
      // Our client frames all 16 MiB (exactly both windows) before this request's HEADERS: when the server sees it,
      // every held stream has its 1 MiB waiting unread.
      const barrier = await within(collect(client.request(requestHeaders(transport, 'GET', '/barrier'), { endStream: true })), 10_000, 'barrier');
      assert.equal(barrier.body.toString(), '16');
      const next = client.request(requestHeaders(transport, 'POST', '/next'), { endStream: false });
      const response = collect(next);
      next.end(randomBytes(2 * MiB));
      const r = await within(response, 15_000, 'the next request (the connection window stayed at 0: the 16 MiB held unread were never credited back)');
      assert.equal(r.body.toString(), String(2 * MiB));
    });
  }
}

// Padding counts against both windows (RFC 9113 §6.1) and carries nothing for the reader: the receiver must
// credit it back on the stream as well as on the connection, or each padded frame shrinks the stream's window
// for good. A 64 KiB stream window (the protocol's default) shows it within a few MiB.
test('node:http2 client padding its frames (PADDING_STRATEGY_MAX) → mesh server: 16 MiB arrive whole', { timeout: 60_000 }, async (t) => {
  const p: Pairing = { client: 'node', server: 'mesh', transport: 'tcp' };
  let padded = 0;
  const { client } = await startPair(
    t,
    p,
    (stream) => {
      const h = createHash('sha256');
      let n = 0;
      stream.on('data', (c: Buffer) => {
        n += c.length;
        h.update(c);
      });
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'x-sha256': h.digest('hex') });
        stream.end(String(n));
      });
    },
    {
      server: {
        mesh: { streamWindow: 65_535 },
        onMeshSession: (s) => s.socket.on('data', frameParser(H2_PREFACE.length, (f) => void (f.type === 0 && f.flags & 0x8 && padded++))),
      },
      client: { node: { paddingStrategy: http2.constants.PADDING_STRATEGY_MAX } },
    },
  );
  const stream = client.request(requestHeaders('tcp', 'POST', '/padded'), { endStream: false });
  const response = collect(stream);
  const sent = newSender();
  const pumped = pump(stream, 16 * MiB, sent);
  const [r] = await within(Promise.all([response, pumped]), 30_000, `the upload (${mib(sent.bytes)} written; ${padded} padded DATA frames seen)`);
  assert.ok(padded > 0, 'the client padded some DATA frames');
  assert.equal(r.body.toString(), String(16 * MiB));
  assert.equal(r.headers['x-sha256'], sent.hash.digest('hex'));
});

// The proxy pipes a request into a client stream (http2-forwarder: req.pipe(stream)) and a server stream into
// what reads it (h2-stream-exchange: stream.pipe(dest)): node's Readable.pipe() into our stream, our pipe() out of it.
for (const transport of ['tcp', 'tls'] as const) {
  test(`mesh client → mesh server over ${transport.toUpperCase()}: Readable.pipe() into a client stream, the server stream's pipe() into a slow Writable: 16 MiB in order`, { timeout: 60_000 }, async (t) => {
    const TOTAL = 16 * MiB;
    const p: Pairing = { client: 'mesh', server: 'mesh', transport };
    let slowWrites = 0;
    const { client } = await startPair(t, p, (stream) => {
      const h = createHash('sha256');
      let n = 0;
      // A reader slower than the network, with a small buffer: the pipe must wait for it.
      const sink = new Writable({
        highWaterMark: 16 * 1024,
        write(chunk: Buffer, _enc, cb) {
          h.update(chunk);
          n += chunk.length;
          if (++slowWrites % 64 === 0) setImmediate(cb);
          else cb();
        },
      });
      sink.on('finish', () => {
        stream.respond({ ':status': 200, 'x-sha256': h.digest('hex') });
        stream.end(String(n));
      });
      stream.pipe(sink);
    });
    const stream = client.request(requestHeaders(transport, 'POST', '/piped'), { endStream: false });
    const response = collect(stream);
    const sent = createHash('sha256');
    let left = TOTAL;
    const source = new Readable({
      highWaterMark: 64 * 1024,
      read() {
        if (left === 0) return void this.push(null);
        const chunk = randomBytes(Math.min(100_000, left));
        left -= chunk.length;
        sent.update(chunk);
        this.push(chunk);
      },
    });
    source.pipe(stream as unknown as NodeJS.WritableStream);
    const r = await within(response, 30_000, 'the piped upload');
    assert.equal(r.body.toString(), String(TOTAL));
    assert.equal(r.headers['x-sha256'], sent.digest('hex'));
    assert.ok(slowWrites > 0);
  });
}
