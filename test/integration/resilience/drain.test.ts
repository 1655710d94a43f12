// Graceful drain: inbound stops accepting at once and finishes what is in
// flight (answered with `connection: close`), while the outbound listener
// keeps serving the app's calls; drain() returns when nothing is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import type { ServerResponse } from 'node:http';
import { request } from '../../harness/http-client.ts';
import { eventually } from '../../harness/eventually.ts';
import { httpUpstream } from '../../harness/upstream-servers.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { metric } from './metric-value.ts';
import { H2_PREFACE, h2Frame } from '../../harness/h2-frame.ts';

test('drain keeps outbound calls working while inbound is closed', async (t) => {
  const held: ServerResponse[] = [];
  const app = await httpUpstream((_req, res) => void held.push(res));
  const payments = await httpUpstream((_req, res) => res.writeHead(200).end('paid'));
  t.after(async () => {
    for (const r of held) if (!r.writableEnded) r.destroy();
    await app.close();
    await payments.close();
  });
  const inbound = httpListener('in', [{ name: 'local', destinations: [{ cluster: 'app' }] }], { direction: 'inbound' });
  const outbound = httpListener('out', [{ name: 'pay', destinations: [{ cluster: 'payments' }] }]);
  const p = await startTestProxy(snapshot([inbound, outbound], [cluster('app', [app.port]), cluster('payments', [payments.port])], { drainMs: 20_000 }));
  t.after(() => p.close().catch(() => {}));
  const inPort = p.port('in');
  const outPort = p.port('out');
  const admin = p.adminPort();

  const inflight = request(inPort, { headers: { host: 'orders' } });
  await eventually(() => assert.equal(held.length, 1));
  let drained = false;
  const draining = p.proxy.drain().then(() => (drained = true));

  // Inbound refuses new connections...
  await eventually(async () => {
    await assert.rejects(request(inPort, { headers: { host: 'orders' } }), { code: 'ECONNREFUSED' });
  });
  // ...while the app's outbound calls go on.
  for (let i = 0; i < 5; i++) {
    const r = await request(outPort, { headers: { host: 'payments' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'paid');
  }
  assert.equal(await metric(admin, 'mesh_requests_total', { listener: 'out', status_code: '200' }), 5);
  assert.equal(drained, false);

  // The in-flight inbound request completes, told to close its connection.
  held[0]!.end('done');
  const r = await inflight;
  assert.equal(r.status, 200);
  assert.equal(r.body, 'done');
  assert.equal(r.headers.connection, 'close');
  // Nothing in flight any more: drain ends well before its 20 s.
  await draining;
  await assert.rejects(request(outPort, { headers: { host: 'payments' } }), { code: 'ECONNREFUSED' });
});

test('drain with h2c: GOAWAY to the client, the stream in flight completes, a new stream is refused', async (t) => {
  const held: ServerResponse[] = [];
  const app = await httpUpstream((_req, res) => void held.push(res));
  t.after(async () => {
    for (const r of held) if (!r.writableEnded) r.destroy();
    await app.close();
  });
  const inbound = httpListener('in', [{ name: 'local', destinations: [{ cluster: 'app' }] }], { direction: 'inbound' });
  // An outbound call held open keeps the drain (and /metrics) going until the end of the test.
  const outbound = httpListener('out', [{ name: 'app', destinations: [{ cluster: 'app' }] }]);
  const p = await startTestProxy(snapshot([inbound, outbound], [cluster('app', [app.port])], { drainMs: 20_000 }));
  t.after(() => p.close().catch(() => {}));
  const admin = p.adminPort();
  // A raw h2c client: Node's own client refuses to open a stream after GOAWAY, this one sends it anyway.
  const c = await rawH2c(p.port('in'));
  t.after(() => c.socket.destroy());
  c.headers(1, '/');
  await eventually(() => assert.equal(held.length, 1));
  const outCall = request(p.port('out'), { headers: { host: 'app' } });
  await eventually(() => assert.equal(held.length, 2));
  const draining = p.proxy.drain();
  await eventually(() => assert.deepEqual(c.goaway, { lastStreamId: 1, code: http2.constants.NGHTTP2_NO_ERROR }));

  // A new stream on the session after GOAWAY is refused: it never reaches the app.
  c.headers(3, '/late');
  const pings = c.pingAcks;
  c.ping(); // answered only after the server has read the HEADERS before it
  await eventually(() => assert.equal(c.pingAcks, pings + 1));
  assert.equal(held.length, 2);
  assert.equal(c.streams.has(3), false);

  held[0]!.end('done');
  await eventually(() => assert.equal(c.streams.get(1)?.ended, true));
  const s1 = c.streams.get(1)!;
  assert.equal(s1.headerBlock[0], 0x88); // :status 200 (HPACK static table index 8)
  assert.equal(s1.body, 'done');
  await eventually(async () => assert.equal(await metric(admin, 'mesh_requests_total', { listener: 'in', status_code: '200' }), 1));
  held[1]!.end('out');
  assert.equal((await outCall).status, 200);
  await draining;
});

/** Just enough of an HTTP/2 client over a plain socket: GET requests, SETTINGS/PING acks, GOAWAY, responses. */
async function rawH2c(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const frame = h2Frame;
  const c = {
    socket,
    goaway: undefined as { lastStreamId: number; code: number } | undefined,
    pingAcks: 0,
    streams: new Map<number, { headerBlock: Buffer; body: string; ended: boolean }>(),
    headers(id: number, path: string): void {
      const lit = (index: number, value: string): Buffer => Buffer.concat([Buffer.from([index, value.length]), Buffer.from(value)]);
      // :method GET, :scheme http (indexed), :path and :authority (literal, not indexed).
      const block = Buffer.concat([Buffer.from([0x82, 0x86]), lit(4, path), lit(1, 'orders')]);
      socket.write(frame(1, 0x5, id, block)); // END_STREAM | END_HEADERS
    },
    ping(): void {
      socket.write(frame(6, 0, 0, Buffer.alloc(8)));
    },
  };
  let buf = Buffer.alloc(0);
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
      const len = buf.readUIntBE(0, 3);
      const [type, flags, id] = [buf[3]!, buf[4]!, buf.readUInt32BE(5) & 0x7fffffff];
      const payload = buf.subarray(9, 9 + len);
      buf = buf.subarray(9 + len);
      if (type === 4 && !(flags & 1)) socket.write(frame(4, 1, 0, Buffer.alloc(0)));
      else if (type === 6 && flags & 1) c.pingAcks++;
      else if (type === 7) c.goaway = { lastStreamId: payload.readUInt32BE(0) & 0x7fffffff, code: payload.readUInt32BE(4) };
      else if (type === 1 || type === 0) {
        let st = c.streams.get(id);
        if (st === undefined) c.streams.set(id, (st = { headerBlock: Buffer.alloc(0), body: '', ended: false }));
        if (type === 1) st.headerBlock = Buffer.from(payload);
        else st.body += payload.toString();
        if (flags & 1) st.ended = true;
      }
    }
  });
  socket.write(H2_PREFACE);
  socket.write(frame(4, 0, 0, Buffer.alloc(0)));
  return c;
}
