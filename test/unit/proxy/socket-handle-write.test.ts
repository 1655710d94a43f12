// SocketWriter writes to a socket's libuv handle through Node internals
// (process.binding('stream_wrap')): these tests fail when a Node upgrade takes
// them away, rather than the TCP proxy quietly falling back to socket.write()
// and its higher CPU cost; and they hold it to what socket.write() guarantees
// (order, backpressure, errors, bytesWritten).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { canWriteToHandle, SocketWriter } from '../../../src/proxy/tcp/socket-handle-write.ts';
import { socketPair } from '../../harness/socket-pair.ts';

/** Everything `socket` receives until its end. */
function received(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return once(socket, 'end').then(() => Buffer.concat(chunks));
}

/**
 * A writer to a client that does not read, given distinct 64 KiB chunks until the kernel's buffers are
 * full and one is left pending; `flushed` counts onFlushed calls, `nextFlush` resolves at the next one.
 */
async function stalledWriter(t: { after(fn: () => void): void }) {
  const { client, accepted, close } = await socketPair();
  t.after(close);
  client.pause();
  let flushed = 0;
  let onFlushed = (): void => {};
  const writer = new SocketWriter(accepted, () => {
    flushed++;
    onFlushed();
  });
  const chunks: Buffer[] = [];
  for (let i = 0; ; i++) {
    assert.ok(i < 10_000, 'the kernel took 640 MB without pushing back');
    const chunk = Buffer.alloc(64 * 1024, i % 251);
    chunks.push(chunk);
    if (!writer.write(chunk)) break;
  }
  return {
    client,
    accepted,
    writer,
    chunks,
    flushed: () => flushed,
    nextFlush: () => new Promise<void>((r) => (onFlushed = r)),
  };
}

test('small writes go straight to the handle, out at once and in order; bytesWritten counts them', async (t) => {
  const { client, accepted, close } = await socketPair();
  t.after(close);
  assert.equal(canWriteToHandle(accepted), true);
  const got = received(client);
  // Not through the Writable: socket.write() is not called for these.
  accepted.write = () => assert.fail('socket.write() called');
  const writer = new SocketWriter(accepted, () => assert.fail('nothing was pending'));
  const buf = Buffer.alloc(1000);
  let sent = '';
  for (let i = 0; i < 50; i++) {
    const text = `${i},`.padEnd(20, '.');
    buf.write(text);
    sent += text;
    assert.equal(writer.write(buf.subarray(0, text.length)), true);
  }
  assert.equal(accepted.bytesWritten, sent.length);
  delete (accepted as Partial<net.Socket>).write;
  accepted.end();
  assert.equal((await got).toString(), sent);
});

test('a reader that stops reading: write() says pending, onFlushed comes once it is out, every byte arrives in order', async (t) => {
  const { client, accepted, writer, chunks, flushed, nextFlush } = await stalledWriter(t);
  assert.equal(flushed(), 0);
  // Pending in libuv, not in the Writable.
  assert.equal(accepted.writableLength, 0);
  const done = nextFlush();
  const got = received(client);
  client.resume();
  await done;
  assert.equal(flushed(), 1);
  // After a pending write, the next goes through a new request object and at once again.
  const last = Buffer.from('last');
  assert.equal(writer.write(last), true);
  chunks.push(last);
  accepted.end();
  assert.ok((await got).equals(Buffer.concat(chunks)));
  assert.equal(accepted.bytesWritten, Buffer.concat(chunks).length);
});

test('a write to a peer that reset the connection destroys the socket with the write error', async (t) => {
  // pauseOnConnect: the accepted socket does not read, so the reset shows up on the write.
  const { client, accepted, close } = await socketPair({ pauseOnConnect: true });
  t.after(close);
  client.resetAndDestroy();
  await once(client, 'close');
  const writer = new SocketWriter(accepted, () => assert.fail('no write completes'));
  const errored = once(accepted, 'error') as Promise<[NodeJS.ErrnoException]>;
  // The first write after the reset may still be taken by the kernel; a later one fails.
  for (let i = 0; i < 100 && !accepted.destroyed; i++) writer.write(Buffer.from('x'));
  const [err] = await errored;
  assert.equal(err.syscall, 'write');
  assert.ok(['EPIPE', 'ECONNRESET'].includes(err.code!), String(err.code));
  assert.equal(accepted.destroyed, true);
});

test('a socket that is not plain TCP (TLS) is written through socket.write()', () => {
  const s = new tls.TLSSocket(new net.Socket());
  assert.equal(canWriteToHandle(s), false);
  s.destroy();
});

test('an ended socket is not written to the handle (socket.write() reports the error as it would)', async (t) => {
  const { client, accepted, close } = await socketPair();
  t.after(close);
  const got = received(client);
  accepted.end('bye');
  const writer = new SocketWriter(accepted, () => {});
  const errored = once(accepted, 'error') as Promise<[NodeJS.ErrnoException]>;
  writer.write(Buffer.from('after end'));
  const [err] = await errored;
  assert.equal(err.code, 'ERR_STREAM_WRITE_AFTER_END');
  assert.equal((await got).toString(), 'bye');
});

test('latin1 strings go straight to the handle too, byte for byte (HTTP/1 heads)', async (t) => {
  const { client, accepted, close } = await socketPair();
  t.after(close);
  const got = received(client);
  accepted.write = () => assert.fail('socket.write() called');
  const writer = new SocketWriter(accepted, () => assert.fail('nothing was pending'));
  const head = 'HTTP/1.1 200 OK\r\nx-latin1: caf\xe9\r\ncontent-length: 0\r\n\r\n';
  assert.equal(writer.write(head), true);
  assert.equal(writer.pending, false);
  delete (accepted as Partial<net.Socket>).write;
  accepted.end();
  assert.ok((await got).equals(Buffer.from(head, 'latin1')));
});

test('several pending writes: pending until the last is out, onFlushed once, and socket.write() after them keeps the order', async (t) => {
  const { client, accepted, writer, chunks, flushed, nextFlush } = await stalledWriter(t);
  // More while the first is pending: libuv queues them behind it (a string, a buffer, then the Writable).
  assert.equal(writer.write('head\r\n'), false);
  chunks.push(Buffer.from('head\r\n'));
  const more = Buffer.alloc(100_000, 7);
  assert.equal(writer.write(more), false);
  chunks.push(more);
  accepted.write('tail');
  chunks.push(Buffer.from('tail'));
  assert.equal(writer.pending, true);
  const done = nextFlush();
  const got = received(client);
  client.resume();
  await done;
  assert.equal(flushed(), 1);
  assert.equal(writer.pending, false);
  accepted.end();
  assert.ok((await got).equals(Buffer.concat(chunks)));
});

// writeSoon(): a busy loop's writes leave together ----------------------------------------------

/** `n` socket pairs, after the event loop has waited for I/O (so writeSoon() counts from the start of a burst). */
async function idlePairs(t: { after(fn: () => void): void }, n: number) {
  const pairs = await Promise.all(Array.from({ length: n }, () => socketPair()));
  for (const p of pairs) t.after(p.close);
  await new Promise((r) => setTimeout(r, 5));
  return pairs;
}

test('writeSoon(): the first two since the loop waited go at once, later ones at the end of the turn, in order with write()', async (t) => {
  const [{ client, accepted }] = await idlePairs(t, 1);
  const got = received(client);
  const writer = new SocketWriter(accepted, () => assert.fail('nothing was pending'));
  writer.writeSoon('a,');
  writer.writeSoon(Buffer.from('b,'));
  assert.equal(accepted.bytesWritten, 4, 'the first two went at once');
  writer.writeSoon('c,');
  writer.writeSoon(Buffer.from('d,'));
  assert.equal(accepted.bytesWritten, 4, 'the next ones are held');
  // write() sends what is held first.
  assert.equal(writer.write('e,'), true);
  assert.equal(accepted.bytesWritten, 10);
  writer.writeSoon('f');
  assert.equal(accepted.bytesWritten, 10);
  await new Promise((r) => setImmediate(r));
  assert.equal(accepted.bytesWritten, 11, 'held until the end of the turn');
  accepted.end();
  assert.equal((await got).toString(), 'a,b,c,d,e,f');
});

test('writeSoon(): a burst leaves as soon as 16 writers hold a write', async (t) => {
  const pairs = await idlePairs(t, 18);
  const writers = pairs.map((p) => new SocketWriter(p.accepted, () => {}));
  writers[0]!.writeSoon('x');
  writers[1]!.writeSoon('x');
  for (let i = 2; i < 17; i++) writers[i]!.writeSoon('x');
  assert.deepEqual(
    pairs.map((p) => p.accepted.bytesWritten),
    [...Array(18).keys()].map((i) => (i < 2 ? 1 : 0)),
    '15 held',
  );
  writers[17]!.writeSoon('x');
  assert.deepEqual(
    pairs.map((p) => p.accepted.bytesWritten),
    Array(18).fill(1),
    'the 16th held write sent the burst',
  );
});

test('writeSoon(): what is held for a socket that ends or fails meanwhile is dropped, quietly', async (t) => {
  const [a, b] = await idlePairs(t, 2);
  const got = received(a.client);
  const wa = new SocketWriter(a.accepted, () => {});
  const wb = new SocketWriter(b.accepted, () => {});
  a.accepted.on('error', (err) => assert.fail(err));
  b.accepted.on('error', (err) => assert.fail(err));
  wa.writeSoon('1');
  wb.writeSoon('1');
  wa.writeSoon('held');
  wb.writeSoon('held');
  a.accepted.end();
  b.accepted.destroy();
  await new Promise((r) => setImmediate(r));
  assert.equal((await got).toString(), '1');
});

test('writeSoon() on a TLS socket writes through socket.write() at once', () => {
  const s = new tls.TLSSocket(new net.Socket());
  const written: unknown[] = [];
  s.write = ((data: unknown) => written.push(data) > 0) as typeof s.write;
  const writer = new SocketWriter(s, () => {});
  for (let i = 0; i < 4; i++) writer.writeSoon(`m${i}`);
  assert.equal(written.length, 4);
  s.destroy();
});
