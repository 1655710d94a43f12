// Opaque TCP forwarding under load: bulk bytes arrive intact both ways, a
// reader that stops reading stalls the writer on the far side (the proxy
// holds a bounded amount, not everything), half-close carries a response
// after the client's end, bytes sent before the upstream connected
// (held by a listener delay) go first, and a reset on either side closes the
// other and is logged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { tcpUpstream } from '../../harness/upstream-servers.ts';
import { startTestProxy, snapshot, cluster } from '../../harness/proxy-builder.ts';
import { eventually } from '../../harness/eventually.ts';
import type { Listener } from '../../../src/shared/snapshot.ts';

const MIB = 1024 * 1024;
const TOTAL = 64 * MIB;
// Far below TOTAL and far above what the sockets' kernel buffers and the proxy's one read buffer per direction hold.
const STALLED_BELOW = 48 * MIB;
const BLOCK = randomBytes(MIB);

const tcpListener = (extra: Partial<Listener> = {}) => ({ name: 'db', address: '127.0.0.1', port: 0, direction: 'outbound' as const, protocol: 'tcp' as const, tcp: { destinations: [{ cluster: 'db' }] }, ...extra });

/** Writes TOTAL bytes (BLOCK repeated), one block at a time once the kernel took the last; `accepted` counts what it took. */
function sendTotal(s: net.Socket, thenEnd: boolean): { accepted: () => number } {
  let accepted = 0;
  const next = (): void => {
    if (accepted === TOTAL) {
      if (thenEnd) s.end();
      return;
    }
    s.write(BLOCK, (err) => {
      if (err) return;
      accepted += BLOCK.length;
      next();
    });
  };
  next();
  return { accepted: () => accepted };
}

const expectedSha = (() => {
  const h = createHash('sha256');
  for (let n = 0; n < TOTAL; n += MIB) h.update(BLOCK);
  return h.digest('hex');
})();

/** Resolves once `count()` has not moved for a few polls: the writer is held by backpressure (or done). */
async function settled(count: () => number): Promise<number> {
  let last = -1;
  let still = 0;
  while (still < 4) {
    await sleep(100);
    const now = count();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
}

/** Hashes everything `s` sends until its end; resolves with the hex digest and byte count. */
function readAll(s: net.Socket): Promise<{ sha: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  s.on('data', (b: Buffer) => {
    h.update(b);
    bytes += b.length;
  });
  return new Promise((resolve) => s.once('end', () => resolve({ sha: h.digest('hex'), bytes })));
}

test('opaque TCP download: a client that stops reading stalls the upstream; then every byte arrives, then the end', async (t) => {
  let sender: { accepted: () => number } | undefined;
  const up = await tcpUpstream((s) => {
    sender = sendTotal(s, true);
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([tcpListener()], [cluster('db', [up.port], { protocol: 'tcp' })]));
  t.after(() => p.close());
  const c = net.connect(p.port(), '127.0.0.1');
  t.after(() => c.destroy());
  c.pause();
  await eventually(() => assert.ok(sender));
  const stalledAt = await settled(sender!.accepted);
  assert.ok(stalledAt < STALLED_BELOW, `the upstream wrote ${stalledAt} bytes while the client read none`);
  const got = readAll(c);
  c.resume();
  assert.deepEqual(await got, { sha: expectedSha, bytes: TOTAL });
  await eventually(() => {
    const line = p.logs().find((l) => l.kind === 'tcp');
    assert.ok(line);
    assert.equal(line.bytes_out, TOTAL);
  });
});

test('opaque TCP upload: an upstream that stops reading stalls the client; after the client ends, the answer still comes back', async (t) => {
  // allowHalfOpen: the upstream answers after the client's end (tcpUpstream's server would end with it).
  let upSocket: net.Socket | undefined;
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => {
    s.on('error', () => {});
    upSocket = s;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    upSocket?.destroy();
    server.close();
  });
  const up = { port: (server.address() as net.AddressInfo).port };
  const p = await startTestProxy(snapshot([tcpListener()], [cluster('db', [up.port], { protocol: 'tcp' })]));
  t.after(() => p.close());
  const c = net.connect({ port: p.port(), host: '127.0.0.1', allowHalfOpen: true });
  t.after(() => c.destroy());
  const sender = sendTotal(c, true);
  await eventually(() => assert.ok(upSocket));
  const stalledAt = await settled(sender.accepted);
  assert.ok(stalledAt < STALLED_BELOW, `the client wrote ${stalledAt} bytes while the upstream read none`);
  // The upstream reads it all, sees the client's end, and only then answers (half-close through the proxy).
  const s = upSocket!;
  const received = readAll(s);
  s.resume();
  const { sha, bytes } = await received;
  s.end(`got ${bytes} ${sha}`);
  const answer = `got ${TOTAL} ${expectedSha}`;
  assert.deepEqual(await readAll(c), { sha: createHash('sha256').update(answer).digest('hex'), bytes: answer.length });
  await eventually(() => {
    const line = p.logs().find((l) => l.kind === 'tcp');
    assert.ok(line);
    assert.equal(line.bytes_in, TOTAL);
    assert.equal(line.bytes_out, answer.length);
  });
});

test('opaque TCP: bytes and the end sent before the upstream connected are forwarded first, in order', async (t) => {
  const up = await tcpUpstream((s) => s.pipe(s));
  t.after(() => up.close());
  // Every connection waits 50 ms before the upstream connect: the client's bytes and FIN arrive first.
  const p = await startTestProxy(snapshot([tcpListener({ fault: { delay: { percent: 100, ms: 50 } } })], [cluster('db', [up.port], { protocol: 'tcp' })]));
  t.after(() => p.close());
  const early = net.connect({ port: p.port(), host: '127.0.0.1', allowHalfOpen: true });
  t.after(() => early.destroy());
  const echoed = readAll(early);
  early.end('first bytes, then FIN');
  const silent = net.connect({ port: p.port(), host: '127.0.0.1', allowHalfOpen: true });
  t.after(() => silent.destroy());
  const nothing = readAll(silent);
  silent.end();
  const want = createHash('sha256').update('first bytes, then FIN').digest('hex');
  assert.deepEqual(await echoed, { sha: want, bytes: 'first bytes, then FIN'.length });
  assert.equal((await nothing).bytes, 0);
});

test('opaque TCP resets: an upstream reset mid-stream closes the client and is logged; a client reset closes the upstream', async (t) => {
  // The upstream echoes; the first connection resets once it has echoed 'ping', the second stays.
  const upstreamClosed: Promise<unknown>[] = [];
  const up = await tcpUpstream((s) => {
    upstreamClosed.push(new Promise((r) => s.once('close', r)));
    s.on('data', (b: Buffer) => {
      s.write(b);
      if (b.includes('reset')) s.resetAndDestroy();
    });
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([tcpListener()], [cluster('db', [up.port], { protocol: 'tcp' })]));
  t.after(() => p.close());

  const a = net.connect(p.port(), '127.0.0.1');
  t.after(() => a.destroy());
  a.on('error', () => {});
  const aClosed = new Promise((r) => a.once('close', r));
  a.write('ping');
  await new Promise((r) => a.once('data', r));
  a.write('reset');
  await aClosed;
  await eventually(() => {
    const line = p.logs().find((l) => l.kind === 'tcp');
    assert.ok(line);
    assert.match(String(line.error), /^upstream-reset db 127\.0\.0\.1:\d+ ECONNRESET$/);
  });

  const b = net.connect(p.port(), '127.0.0.1');
  t.after(() => b.destroy());
  b.write('ping');
  await new Promise((r) => b.once('data', r));
  b.resetAndDestroy();
  // The proxy closes its upstream connection too.
  await eventually(() => assert.equal(upstreamClosed.length, 2));
  await upstreamClosed[1];
  await eventually(() => assert.equal(p.logs().filter((l) => l.kind === 'tcp').length, 2));
  assert.match(String(p.logs().filter((l) => l.kind === 'tcp')[1]!.error), /^downstream-reset ECONNRESET$/);
});

test('opaque TCP, many connections: one whose reader stalls keeps its bytes while the others go on reading (shared read buffers)', async (t) => {
  const up = await tcpUpstream((s) => s.pipe(s));
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([tcpListener()], [cluster('db', [up.port], { protocol: 'tcp' })]));
  t.after(() => p.close());
  // The bulk connection's echo stalls in the proxy: its pending write holds the buffer it read into.
  const bulk = net.connect({ port: p.port(), host: '127.0.0.1', allowHalfOpen: true });
  t.after(() => bulk.destroy());
  bulk.pause();
  const sent = sendTotal(bulk, true);
  await settled(sent.accepted);
  // Meanwhile request/response connections read and write through the proxy, each checking its echo.
  const chatty = Array.from({ length: 8 }, async (_v, i) => {
    const c = net.connect(p.port(), '127.0.0.1');
    t.after(() => c.destroy());
    for (let round = 0; round < 200; round++) {
      const msg = randomBytes(1 + ((i * 977 + round * 131) % 6000));
      const echoed = new Promise<Buffer>((resolve) => {
        const parts: Buffer[] = [];
        let got = 0;
        const onData = (b: Buffer): void => {
          parts.push(b);
          got += b.length;
          if (got < msg.length) return;
          c.off('data', onData);
          resolve(Buffer.concat(parts));
        };
        c.on('data', onData);
      });
      c.write(msg);
      assert.ok((await echoed).equals(msg), `connection ${i} round ${round}: echo differs`);
    }
    c.end();
  });
  await Promise.all(chatty);
  // Then the bulk reader resumes: every byte it sent comes back intact.
  const back = readAll(bulk);
  bulk.resume();
  assert.deepEqual(await back, { sha: expectedSha, bytes: TOTAL });
});
