// readIntoBuffer() leans on Node internals (the fields net.connect's `onread`
// sets): these tests fail when a Node upgrade takes them away, rather than the
// TCP proxy quietly falling back to pipe() and its higher CPU cost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { canReadIntoBuffer, readIntoBuffer } from '../../../src/proxy/tcp/socket-read-buffer.ts';
import { socketPair } from '../../harness/socket-pair.ts';

test('an accepted socket reads into the given buffer: every chunk in order, the same buffer each time, then end', async (t) => {
  const { client, accepted, close } = await socketPair();
  t.after(close);
  assert.equal(canReadIntoBuffer(accepted), true);
  const buf = Buffer.alloc(64);
  const got: string[] = [];
  const seen = new Set<Buffer>();
  let reads = 0;
  assert.equal(
    readIntoBuffer(accepted, buf, (n, b) => {
      seen.add(b);
      reads++;
      got.push(b.subarray(0, n).toString());
      return true;
    }),
    true,
  );
  const ended = new Promise<void>((r) => accepted.once('end', r));
  // More than the buffer holds: several reads into the same 64 bytes.
  const text = 'x'.repeat(100) + 'y'.repeat(100);
  client.end(text);
  await ended;
  assert.equal(got.join(''), text);
  assert.ok(reads >= 4, `${reads} reads of at most 64 bytes`);
  assert.deepEqual([...seen], [buf]);
  assert.equal(accepted.bytesRead, text.length);
});

test('a TLS socket is left alone', () => {
  const s = new tls.TLSSocket(new net.Socket());
  assert.equal(canReadIntoBuffer(s), false);
  assert.equal(
    readIntoBuffer(s, Buffer.alloc(16), () => true),
    false,
  );
  s.destroy();
});
