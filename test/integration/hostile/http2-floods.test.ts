// HTTP/2 abuse at a real proxy, in raw frames over a plain socket (h2c with
// prior knowledge): rapid reset (CVE-2023-44487: open a stream, cancel it at
// once, many times) and a SETTINGS flood whose ACKs are never read. The proxy
// must end such a connection (GOAWAY or close), forward a bounded number of
// the cancelled requests, stay up, and serve everyone else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { eventually } from '../../harness/eventually.ts';
import { recordingMesh } from './hostile-harness.ts';
import { H2_PREFACE, h2Frame } from '../../harness/h2-frame.ts';

const PREFACE = H2_PREFACE;
const frame = h2Frame;
const SETTINGS = 0x4;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const GOAWAY = 0x7;
// HPACK: :method GET (static 2), :scheme http (6), :path / (4), :authority "app" (literal, name index 1).
const GET_BLOCK = Buffer.concat([Buffer.from([0x82, 0x86, 0x84, 0x01, 0x03]), Buffer.from('app')]);

/** Reads frames the proxy sends until it closes or `ms` passes; reports any GOAWAY error code. */
function watch(s: net.Socket, ms: number): Promise<{ closed: boolean; goaway?: number }> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let goaway: number | undefined;
    const done = (closed: boolean) => {
      clearTimeout(timer);
      resolve({ closed, goaway });
    };
    const timer = setTimeout(() => done(false), ms);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        if (buf[3] === GOAWAY && len >= 8) goaway = buf.readUInt32BE(9 + 4);
        buf = buf.subarray(9 + len);
      }
    });
    s.on('close', () => done(true));
    s.on('error', () => {});
  });
}

async function h2Get(port: number): Promise<string> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  try {
    return await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/normal', ':authority': 'app' });
      req.on('response', (h) => resolve(`${h[':status']}${h['x-mesh-error'] ? ` ${h['x-mesh-error']}` : ''}`));
      req.on('error', reject);
      req.resume();
      req.end();
    });
  } finally {
    session.close();
  }
}

test('HTTP/2 rapid reset: 20,000 streams opened and cancelled at once; the connection is ended, few requests go upstream, others are served', async (t) => {
  const m = await recordingMesh(t);
  const s = net.connect(m.port, '127.0.0.1');
  t.after(() => s.destroy());
  await new Promise<void>((r) => s.once('connect', () => r()));
  const outcome = watch(s, 15_000);
  s.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0)]));
  const rst = Buffer.alloc(4);
  rst.writeUInt32BE(0x8); // CANCEL
  let written = 0;
  for (let batch = 0; batch < 40 && !s.destroyed; batch++) {
    const frames: Buffer[] = [];
    for (let i = 0; i < 500; i++) {
      const id = 1 + 2 * written++;
      frames.push(frame(HEADERS, 0x4 | 0x1, id, GET_BLOCK), frame(RST_STREAM, 0, id, rst));
    }
    if (!s.write(Buffer.concat(frames))) await new Promise((r) => (s.once('drain', r), s.once('close', r)));
  }
  const [normal, end] = await Promise.all([h2Get(m.port), outcome]);
  assert.equal(normal, '200', 'a normal HTTP/2 request at the same time');
  assert.ok(end.closed || end.goaway !== undefined, `the attacking connection was ended (closed ${end.closed}, goaway ${end.goaway})`);
  const forwarded = m.seen.filter((x) => x.url === '/').length;
  t.diagnostic(`${written} streams opened and reset; ${forwarded} reached the upstream; GOAWAY code ${end.goaway}`);
  assert.ok(forwarded < 2000, `${forwarded} cancelled requests reached the upstream`);
  assert.equal(await h2Get(m.port), '200', 'served after the attack');
  await eventually(() => assert.ok(m.proxy.logs().some((l) => l.error === 'downstream-protocol-error rapid-reset'), 'logged'));
});

test('HTTP/2 SETTINGS flood whose ACKs are never read: the connection is ended, the proxy serves others', async (t) => {
  const m = await recordingMesh(t);
  const s = net.connect(m.port, '127.0.0.1');
  t.after(() => s.destroy());
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.pause(); // never read: every ACK the proxy owes piles up on its side
  const one = Buffer.alloc(6);
  one.writeUInt16BE(0x3); // MAX_CONCURRENT_STREAMS
  one.writeUInt32BE(100, 2);
  s.write(PREFACE);
  let sent = 0;
  let closed = false;
  s.on('close', () => (closed = true));
  s.on('error', () => {});
  for (let batch = 0; batch < 100 && !closed; batch++) {
    const frames: Buffer[] = [];
    for (let i = 0; i < 1000; i++, sent++) frames.push(frame(SETTINGS, 0, 0, one));
    if (!s.write(Buffer.concat(frames))) await new Promise((r) => (s.once('drain', r), s.once('close', r), setTimeout(r, 2000)));
  }
  assert.equal(await h2Get(m.port), '200', 'a normal request during the flood');
  // Read again, to see the close (a paused socket never notices its end).
  s.resume();
  await eventually(() => assert.ok(closed, `connection still open after ${sent} SETTINGS frames`), { timeoutMs: 15_000, intervalMs: 100 });
  t.diagnostic(`connection ended after ${sent} SETTINGS frames were written`);
  assert.equal(await h2Get(m.port), '200', 'served after the flood');
  await eventually(() => assert.ok(m.proxy.logs().some((l) => l.error === 'downstream-protocol-error settings-flood'), 'logged'));
});
