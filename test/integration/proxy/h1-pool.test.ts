// The HTTP/1.1 upstream client (clusters/h1-pool.ts, h1-connection.ts) over
// real loopback sockets: keep-alive reuse, the connection limit and its FIFO
// queue, aborts (queued and in flight), idle expiry, connections the upstream
// closes or confuses, request body framing, and request bodies under backpressure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { H1Pool, type H1Call, type H1Handler, type H1Request } from '../../../src/proxy/clusters/h1-pool.ts';
import { httpUpstream, tcpUpstream } from '../../harness/upstream-servers.ts';
import { eventually } from '../../harness/eventually.ts';

type T = import('node:test').TestContext;

interface Result {
  status: number;
  raw: string[];
  body: string;
  trailers: string[] | undefined;
  started: boolean;
}

function pool(t: T, port: number, o: { max?: number; keepAliveMs?: number } = {}): H1Pool {
  const p = new H1Pool('127.0.0.1', port, {
    maxConnections: o.max ?? 4,
    connectTimeoutMs: 2000,
    connectTimeoutError: () => Object.assign(new Error('connect timeout'), { code: 'MESH_CONNECT_TIMEOUT' }),
    keepAliveMs: o.keepAliveMs,
  });
  t.after(() => p.destroy());
  return p;
}

/** Dispatches one request and resolves with its response (rejects with the error the handler got). */
function send(p: H1Pool, req: Partial<H1Request> = {}, hooks: { onStart?: (c: H1Call) => void; onHead?: (c: H1Call) => void } = {}): { call: H1Call; done: Promise<Result> } {
  let call!: H1Call;
  const done = new Promise<Result>((resolve, reject) => {
    const r: Result = { status: 0, raw: [], body: '', trailers: undefined, started: false };
    const h: H1Handler = {
      onRequestStart(c) {
        r.started = true;
        hooks.onStart?.(c);
      },
      onBodySent() {},
      onResponseStart(c, status, _reason, raw) {
        r.status = status;
        r.raw = raw;
        hooks.onHead?.(c);
      },
      onResponseData(_c, chunk) {
        r.body += chunk.toString();
      },
      onResponseEnd(_c, trailers) {
        r.trailers = trailers;
        resolve(r);
      },
      onResponseError(_c, err) {
        reject(err);
      },
    };
    call = p.dispatch({ method: 'GET', path: '/', headers: ['host', 'up'], body: null, ...req }, h);
  });
  return { call, done };
}

/** A raw upstream answering each request head with `answer(n)` (n counts requests on the connection). */
async function scripted(t: T, answer: (n: number, head: string, s: net.Socket) => string | undefined) {
  const seen: string[] = [];
  const up = await tcpUpstream((s) => {
    let buf = '';
    let n = 0;
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        seen.push(head);
        const out = answer(++n, head, s);
        if (out !== undefined) s.write(out);
      }
    });
  });
  t.after(() => up.close());
  return { up, seen };
}

test('sequential requests reuse one keep-alive connection; Host, framing and header case as given', async (t) => {
  const { up, seen } = await scripted(t, () => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Up: a\r\n\r\nok');
  const p = pool(t, up.port);
  for (let i = 0; i < 5; i++) {
    const r = await send(p, { headers: ['Host', 'svc', 'X-Case', 'Kept', 'content-length', '0'] }).done;
    assert.equal(r.body, 'ok');
    assert.deepEqual(r.raw, ['Content-Length', '2', 'X-Up', 'a']);
  }
  assert.equal(up.connections, 1);
  assert.equal(seen[0], 'GET / HTTP/1.1\r\nHost: svc\r\nX-Case: Kept\r\nconnection: keep-alive');
  // No Host given: the endpoint's.
  await send(p, { headers: [] }).done;
  assert.match(seen.at(-1)!, new RegExp(`\r\nhost: 127\\.0\\.0\\.1:${up.port}\r\n`));
});

test('at most maxConnections; the rest wait in order and start when a connection frees', async (t) => {
  const held: net.Socket[] = [];
  const { up, seen } = await scripted(t, (_n, _head, s) => {
    held.push(s);
    return undefined; // answered below, one at a time
  });
  const p = pool(t, up.port, { max: 1 });
  const calls = ['/1', '/2', '/3'].map((path) => send(p, { path }));
  await eventually(() => assert.equal(seen.length, 1));
  assert.deepEqual(p.stats, { open: 1, idle: 0, queued: 2 });
  for (let i = 0; i < 3; i++) {
    await eventually(() => assert.equal(seen.length, i + 1));
    held[i]!.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n' + String(i + 1));
    assert.equal((await calls[i]!.done).body, String(i + 1));
  }
  assert.deepEqual(seen.map((h) => h.split(' ')[1]), ['/1', '/2', '/3']);
  assert.equal(up.connections, 1);
});

test('abort: a queued request never reaches the upstream; one in flight closes its connection', async (t) => {
  let sockets = 0;
  let closed = 0;
  const { up, seen } = await scripted(t, (_n, _h, s) => {
    sockets++;
    s.on('close', () => closed++);
    return 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n'; // and never more
  });
  const p = pool(t, up.port, { max: 1 });
  const first = send(p, { path: '/first' });
  const queued = send(p, { path: '/queued' });
  await eventually(() => assert.equal(seen.length, 1));
  queued.call.abort(new Error('client went away'));
  await assert.rejects(queued.done, /client went away/);
  first.call.abort(new Error('client went away'));
  await assert.rejects(first.done, /client went away/);
  await eventually(() => assert.equal(closed, 1));
  assert.equal(sockets, 1);
  assert.deepEqual(seen.map((h) => h.split(' ')[1]), ['/first']);
  assert.deepEqual(p.stats, { open: 0, idle: 0, queued: 0 });
});

test('an idle connection past its keep-alive time is closed, and one the upstream closed is not reused', async (t) => {
  const { up } = await scripted(t, (n, _h, s) => {
    if (n === 1) setTimeout(() => s.end(), 20).unref(); // closes after answering, while idle in the pool
    return 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n';
  });
  const p = pool(t, up.port, { keepAliveMs: 150 });
  await send(p).done;
  await eventually(() => assert.equal(p.stats.open, 0)); // the upstream's close took it out of the pool
  await send(p).done; // a new connection, no error
  assert.equal(up.connections, 2);
  assert.equal(p.stats.idle, 1);
  await sleep(200);
  await send(p).done; // expired: not reused
  assert.equal(up.connections, 3);
});

test('Keep-Alive: timeout hint and Connection: close decide reuse', async (t) => {
  const { up } = await scripted(t, (n) => (n === 1 ? 'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n' : 'HTTP/1.1 200 OK\r\nkeep-alive: timeout=1\r\ncontent-length: 0\r\n\r\n'));
  const p = pool(t, up.port);
  await send(p).done;
  await send(p).done; // new connection: the first said close
  // timeout=1 s leaves no margin (hint minus 2 s): closed, not pooled.
  await eventually(() => assert.deepEqual(p.stats, { open: 0, idle: 0, queued: 0 }));
  assert.equal(up.connections, 2);
});

test('bytes after the end of a response: that connection is never used again', async (t) => {
  const { up } = await scripted(t, () => 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged');
  const p = pool(t, up.port);
  assert.equal((await send(p).done).body, 'ok');
  assert.equal((await send(p).done).body, 'ok');
  assert.equal(up.connections, 2);
});

test('protocol errors and resets reach the handler with their codes', async (t) => {
  const cases: [string, RegExp][] = [
    ['HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n', /HPE_UNEXPECTED_CONTENT_LENGTH/],
    ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', /HPE_INVALID_CHUNK_SIZE/],
  ];
  for (const [answer, code] of cases) {
    const { up } = await scripted(t, () => answer);
    const p = pool(t, up.port);
    await assert.rejects(send(p).done, (err: { code?: string }) => code.test(String(err.code)));
  }
  // Closed before a byte of response: undici's code, so the stale keep-alive retry still knows it.
  const { up } = await scripted(t, (_n, _h, s) => void s.end());
  await assert.rejects(send(pool(t, up.port)).done, (err: { code?: string }) => err.code === 'UND_ERR_SOCKET');
  // Cut mid-body.
  const cut = await scripted(t, (_n, _h, s) => void s.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'));
  await assert.rejects(send(pool(t, cut.up.port)).done, (err: { code?: string }) => err.code === 'UND_ERR_SOCKET');
  // Nothing listens.
  const dead = await tcpUpstream(() => {});
  await dead.close();
  await assert.rejects(send(pool(t, dead.port)).done, (err: { code?: string }) => err.code === 'ECONNREFUSED');
});

test('request bodies: Buffer with content-length, stream with the given length, stream chunked; echo matches', async (t) => {
  const up = await httpUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(JSON.stringify({ te: req.headers['transfer-encoding'], cl: req.headers['content-length'], body: Buffer.concat(chunks).toString() })));
  });
  t.after(() => up.close());
  const p = pool(t, up.port);
  const buf = JSON.parse((await send(p, { method: 'POST', body: Buffer.from('hello'), headers: ['host', 'x', 'content-length', '999'] }).done).body);
  assert.deepEqual(buf, { cl: '5', body: 'hello' });
  const empty = JSON.parse((await send(p, { method: 'POST' }).done).body);
  assert.deepEqual(empty, { cl: '0', body: '' });
  const withLength = new PassThrough();
  const a = send(p, { method: 'PUT', body: withLength, headers: ['host', 'x', 'Content-Length', '6'] });
  withLength.write('abc');
  setTimeout(() => withLength.end('def'), 10);
  assert.deepEqual(JSON.parse((await a.done).body), { cl: '6', body: 'abcdef' });
  const chunked = new PassThrough();
  const b = send(p, { method: 'POST', body: chunked });
  chunked.write('x'.repeat(100));
  setTimeout(() => chunked.end('y'), 10);
  assert.deepEqual(JSON.parse((await b.done).body), { te: 'chunked', body: 'x'.repeat(100) + 'y' });
  assert.equal(up.connections, 1, 'all on one connection');
});

test('a large request body to a slow reader is paused, not buffered, and arrives whole', async (t) => {
  let received = 0;
  let reading = false;
  const up = await httpUpstream((req, res) => {
    req.pause();
    setTimeout(() => {
      reading = true;
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('end', () => res.end('done'));
      req.resume();
    }, 300);
  });
  t.after(() => up.close());
  const p = pool(t, up.port);
  const body = new PassThrough({ highWaterMark: 16 * 1024 });
  const total = 64 * 1024 * 1024;
  const r = send(p, { method: 'POST', body, headers: ['host', 'x', 'content-length', String(total)] });
  const chunk = Buffer.alloc(64 * 1024, 'z');
  let written = 0;
  let beforeReading = 0;
  while (written < total) {
    if (!body.write(chunk)) await new Promise((resolve) => body.once('drain', resolve));
    written += chunk.length;
    if (!reading) beforeReading = written;
  }
  body.end();
  assert.equal((await r.done).body, 'done');
  assert.equal(received, total);
  // While the upstream read nothing, only socket buffers' worth went out (kernel buffers on loopback: a few MB).
  assert.ok(beforeReading < 24 * 1024 * 1024, `${beforeReading} bytes accepted before the upstream read any`);
});

test('a connection paused by its response (client backpressure) goes back to the pool flowing', { timeout: 10_000 }, async (t) => {
  const { up } = await scripted(t, () => 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
  const p = pool(t, up.port, { max: 1 });
  // Paused as the head arrives and never resumed: the body came in the same read, so the response still ends.
  assert.equal((await send(p, {}, { onHead: (c) => c.pause() }).done).body, 'hello');
  assert.equal((await send(p).done).body, 'hello');
  assert.equal(up.connections, 1);
});

test('close() lets the request in flight finish, then resolves; destroy() fails what is in flight or queued', async (t) => {
  const held: net.Socket[] = [];
  const { up } = await scripted(t, (_n, _h, s) => void held.push(s));
  const p = pool(t, up.port, { max: 1 });
  const inFlight = send(p);
  await eventually(() => assert.equal(held.length, 1));
  let closed = false;
  const closing = p.close().then(() => (closed = true));
  await sleep(20);
  assert.equal(closed, false, 'waits for the request in flight');
  held[0]!.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  assert.equal((await inFlight.done).body, 'ok');
  await closing;
  assert.deepEqual(p.stats, { open: 0, idle: 0, queued: 0 });

  const q = pool(t, up.port, { max: 1 });
  const a = send(q);
  const b = send(q);
  await eventually(() => assert.equal(held.length, 2));
  const failed = [a, b].map((c) => assert.rejects(c.done, (err: { code?: string }) => err.code === 'UND_ERR_DESTROYED'));
  await q.destroy();
  await Promise.all(failed);
});
