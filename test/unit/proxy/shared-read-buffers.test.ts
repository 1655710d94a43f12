// Shared read buffers: a forwarder whose write is pending keeps the buffer it
// read into, and nobody else reads into that buffer again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedReadBuffer, type SharedBufferReader } from '../../../src/proxy/tcp/shared-read-buffers.ts';

/** A reader that remembers where it was told to read. */
function reader(): SharedBufferReader & { buf: Buffer | undefined } {
  const r = {
    buf: undefined as Buffer | undefined,
    moveTo(b: Buffer) {
      r.buf = b;
    },
  };
  return r;
}

test('up to 64 readers share one buffer; the 65th starts a new group', () => {
  // A size of its own: a group of its own, whatever other tests joined.
  const size = 1001;
  const groups = Array.from({ length: 65 }, () => SharedReadBuffer.join(reader(), size));
  assert.equal(new Set(groups.slice(0, 64)).size, 1);
  assert.equal(groups[0]!.memberCount, 64);
  assert.equal(groups[0]!.buffer.length, size);
  assert.notEqual(groups[64], groups[0]);
  assert.notEqual(groups[64]!.buffer, groups[0]!.buffer);
});

test('giveTo: the reader with a pending write keeps the buffer; every other member moves to a new one; leavers are not moved', () => {
  const size = 1002;
  const [a, b, c, gone] = [reader(), reader(), reader(), reader()];
  const g = SharedReadBuffer.join(a, size);
  for (const r of [b, c, gone]) assert.equal(SharedReadBuffer.join(r, size), g);
  const kept = g.buffer;
  g.leave(gone);
  g.giveTo(a);
  assert.notEqual(g.buffer, kept);
  assert.equal(b.buf, g.buffer);
  assert.equal(c.buf, g.buffer);
  assert.equal(a.buf, undefined);
  assert.equal(gone.buf, undefined);
  assert.equal(g.memberCount, 2);
  // a left with the old buffer: the next hand-over does not move it.
  g.giveTo(b);
  assert.equal(a.buf, undefined);
  assert.equal(c.buf, g.buffer);
  assert.equal(g.memberCount, 1);
});
