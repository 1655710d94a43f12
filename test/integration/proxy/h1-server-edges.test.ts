// Edge cases of the proxy's own HTTP/1.1 server (listeners/h1-server-connection.ts)
// over real sockets, each found by h1-server-fuzz.test.ts or by reading the
// code: pipelined requests after a response that closes the connection, a
// client's half-close after pipelining, a client that leaves mid-body (the
// upstream request is aborted, nothing is left open, the proxy survives),
// the tail of a response to a client that is still sending (lingering close),
// a client that sends requests without reading the answers, an upgraded
// connection's half-close, a slow reader of a large response, a drained listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../../harness/eventually.ts';
import { httpUpstream } from '../../harness/upstream-servers.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { raw } from '../hostile/hostile-harness.ts';
import { startProxyProcess } from '../hostile/proxy-process.ts';

type T = { after(fn: () => Promise<void> | void): void };
const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));

interface UpstreamLog {
  /** URLs of requests whose head arrived. */
  started: string[];
  /** URLs of requests whose body arrived whole. */
  complete: string[];
  /** URLs of requests cut before their end. */
  aborted: string[];
}

/** An upstream answering `?size=N` bytes (default "ok") after reading the body, recording what reached it. */
async function recordingUpstream(t: T, handler?: http.RequestListener) {
  const log: UpstreamLog = { started: [], complete: [], aborted: [] };
  const up = await httpUpstream(
    handler ??
      ((req, res) => {
        log.started.push(req.url!);
        req.resume();
        req.on('close', () => {
          if (!req.complete) log.aborted.push(req.url!);
        });
        req.on('end', () => {
          log.complete.push(req.url!);
          const m = /size=(\d+)/.exec(req.url!);
          const body = m ? Buffer.alloc(Number(m[1]), 'z') : Buffer.from('ok');
          res.writeHead(200, { 'content-length': body.length });
          res.end(body);
        });
      }),
  );
  t.after(() => up.close());
  const open = () => new Promise<number>((r) => up.server.getConnections((_e, n) => r(n)));
  return { up, log, open };
}

const routes = (extra: object = {}) => [{ name: 'app', match: { hosts: ['app'] }, destinations: [{ cluster: 'app' }], ...extra }];

/** Writes `bytes` (then half-closes if asked) and collects everything until the proxy closes. */
function exchange(port: number, bytes: string | Buffer, { end = false, timeoutMs = 5000 } = {}): Promise<{ text: string; error?: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    let error: string | undefined;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(parts).toString('latin1').slice(0, 300))}`));
    }, timeoutMs);
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('error', (e) => (error = (e as NodeJS.ErrnoException).code ?? e.message));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(parts).toString('latin1'), error });
    });
    s.on('connect', () => (end ? s.end(bytes) : s.write(bytes)));
  });
}

test('requests pipelined after one whose response closes the connection at once (no route, HTTP/1.0 or Connection: close) are never forwarded', async (t) => {
  const { up, log } = await recordingUpstream(t);
  const p = await startTestProxy(snapshot([httpListener('out', routes())], [cluster('app', [up.port])]));
  t.after(() => p.close());
  // A pooled upstream connection, so a wrongly parsed request would reach the upstream at once.
  assert.deepEqual(statuses((await raw(p.port(), 'GET /warm HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n')).text), [200]);
  for (const first of ['GET /a HTTP/1.0\r\nHost: nowhere\r\n\r\n', 'GET /b HTTP/1.1\r\nHost: nowhere\r\nConnection: close\r\n\r\n', 'POST /c HTTP/1.0\r\nHost: nowhere\r\nContent-Length: 3\r\n\r\nabc']) {
    const r = await exchange(p.port(), `${first}GET /after HTTP/1.1\r\nHost: app\r\n\r\n`);
    assert.deepEqual(statuses(r.text), [404], r.text);
  }
  await sleep(100);
  assert.deepEqual(log.complete, ['/warm'], 'nothing after a closing response reached the upstream');
});

test('a client that pipelines requests and half-closes gets every answer, then a close', async (t) => {
  const { up, log } = await recordingUpstream(t);
  const p = await startTestProxy(snapshot([httpListener('out', routes())], [cluster('app', [up.port])]));
  t.after(() => p.close());
  const body = 'x'.repeat(32);
  const r = await exchange(p.port(), `GET /1 HTTP/1.1\r\nHost: app\r\nContent-Length: 32\r\n\r\n${body}GET /2?size=200000 HTTP/1.1\r\nHost: app\r\n\r\nGET /3 HTTP/1.1\r\nHost: nowhere\r\n\r\nGET /4 HTTP/1.1\r\nHost: app\r\n\r\n`, { end: true });
  assert.deepEqual(statuses(r.text), [200, 200, 404, 200]);
  assert.ok(r.text.endsWith('\r\n\r\nok'), 'the last response is whole');
  assert.deepEqual(log.complete, ['/1', '/2?size=200000', '/4']);
});

test('the whole response to a closing request arrives although the client is still sending (lingering close, no RST)', async (t) => {
  const { up } = await recordingUpstream(t);
  const p = await startTestProxy(snapshot([httpListener('out', routes())], [cluster('app', [up.port])]));
  t.after(() => p.close());
  const size = 245_307;
  for (let i = 0; i < 5; i++) {
    // The POST after the HTTP/1.0 request is never read: closing with it unread used to reset the connection.
    const r = await exchange(p.port(), `GET /1?size=${size} HTTP/1.0\r\nHost: app\r\n\r\nPOST /2 HTTP/1.1\r\nHost: app\r\nContent-Length: 150000\r\n\r\n${'y'.repeat(150_000)}`);
    assert.equal(r.error, undefined, 'no reset');
    assert.ok(r.text.endsWith(`\r\n\r\n${'z'.repeat(size)}`), `the body is whole: ${r.text.length} bytes`);
  }
  // A refusal is not lost to a reset either, with the client's bytes after it unread.
  const refused = await exchange(p.port(), `POST /x HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n${'j'.repeat(300_000)}`);
  assert.deepEqual(statuses(refused.text), [400]);
});

test('a client that leaves mid-body: the upstream request is aborted, no upstream connection stays open, the proxy process lives on', async (t) => {
  const { up, log, open } = await recordingUpstream(t);
  const p = await startProxyProcess(snapshot([httpListener('out', routes())], [cluster('app', [up.port])]));
  t.after(() => p.close());
  const get = async () => statuses((await raw(p.port, 'GET /ok HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n')).text);
  assert.deepEqual(await get(), [200]); // warms the pool: the body goes upstream at once
  for (const [i, [bytes, then]] of [
    ['POST /cut HTTP/1.1\r\nHost: app\r\nContent-Length: 100000\r\n\r\n0123456789', undefined],
    ['POST /cut HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n', undefined],
    // A bad chunk size once the request is on its way: the proxy cuts it itself.
    ['POST /bad HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n', '1 \r\n'],
  ].entries()) {
    const s = net.connect(p.port, '127.0.0.1');
    s.on('error', () => {});
    s.write(bytes!);
    // Once the upstream has the request, the client leaves (or sends the bad chunk size).
    await eventually(() => assert.equal(log.started.length, i + 2));
    if (then !== undefined) s.write(then);
    else s.destroy();
    await eventually(() => assert.equal(log.aborted.length, i + 1, `upstream request ${i} aborted`));
  }
  // Each cut request took the pooled connection and closed it: none is left open upstream.
  await eventually(async () => assert.equal(await open(), 0, 'upstream connections left open'));
  assert.equal(p.child.exitCode, null, `the proxy process is still running: ${p.stderr()}`);
  assert.deepEqual(await get(), [200]);
  assert.deepEqual(log.complete, ['/ok', '/ok']);
});

test('a client that pipelines requests and reads no answers: the proxy stops reading it, then answers every one once it reads', async (t) => {
  const { up } = await recordingUpstream(t);
  const p = await startTestProxy(snapshot([httpListener('out', routes())], [cluster('app', [up.port])]));
  t.after(() => p.close());
  const s = net.connect(p.port(), '127.0.0.1');
  t.after(() => s.destroy());
  s.pause();
  await new Promise((r) => s.once('connect', r));
  // Each small request gets a larger answer (a 404 from the proxy itself): without backpressure the
  // proxy would queue them all in memory (30 MiB of these grew its RSS by 500 MiB).
  const one = 'GET /x HTTP/1.1\r\nHost: nowhere\r\n\r\n';
  const perChunk = Math.floor(65_536 / one.length);
  const chunk = one.repeat(perChunk);
  const limit = 32 * 2 ** 20;
  let sent = 0;
  while (sent < limit) {
    sent += chunk.length;
    if (s.write(chunk)) continue;
    // Backed up: wait for a drain that only comes if the proxy keeps reading.
    const drained = await Promise.race([new Promise((r) => s.once('drain', () => r(true))), sleep(1000).then(() => false)]);
    if (!drained) break;
  }
  assert.ok(sent < limit / 2, `the proxy read ${(sent / 2 ** 20).toFixed(1)} MiB of requests while none of the answers was read`);
  // Now read: every request is answered, in order, then the half-close closes the connection.
  const requests = (sent / chunk.length) * perChunk;
  let answers = 0;
  let tail = '';
  s.on('data', (d: Buffer) => {
    const text = tail + d.toString('latin1');
    answers += text.split('HTTP/1.1 404 ').length - 1;
    tail = text.slice(-12);
  });
  s.end();
  s.resume();
  await new Promise((r) => s.on('close', r));
  assert.equal(answers, requests);
});

test('an upgraded connection the client half-closes stays open for the upstream\'s last bytes', async (t) => {
  const upstream = http.createServer((_req, res) => res.end('ok'));
  upstream.on('upgrade', (_req, socket: net.Socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    // Answers after the client's end, as a protocol with a closing handshake does.
    socket.on('end', () => setTimeout(() => socket.end(`bye after ${got}`), 50));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  t.after(() => {
    upstream.closeAllConnections();
    upstream.close();
  });
  const p = await startTestProxy(snapshot([httpListener('out', routes())], [cluster('app', [(upstream.address() as net.AddressInfo).port])]));
  t.after(() => p.close());
  const text = await new Promise<string>((resolve, reject) => {
    const s = net.connect({ port: p.port(), host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n') && !s.writableEnded) s.end('hello');
    });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.write('GET / HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
  });
  assert.match(text, /^HTTP\/1\.1 101 /);
  assert.ok(text.endsWith('\r\n\r\nbye after hello'), JSON.stringify(text));
});

test('two empty lines before a request line are skipped, as node:http did', async (t) => {
  const { up } = await recordingUpstream(t);
  const p = await startTestProxy(snapshot([httpListener('out', routes())], [cluster('app', [up.port])]));
  t.after(() => p.close());
  const r = await raw(p.port(), 'GET /1 HTTP/1.1\r\nHost: app\r\n\r\n\r\n\r\nGET /2 HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n');
  assert.deepEqual(statuses(r.text), [200, 200]);
});

test('a slow reader of a large response gets all of it', async (t) => {
  const { up } = await recordingUpstream(t);
  const p = await startTestProxy(snapshot([httpListener('out', routes())], [cluster('app', [up.port])]));
  t.after(() => p.close());
  const size = 8 * 2 ** 20;
  const got = await new Promise<number>((resolve, reject) => {
    const s = net.connect(p.port(), '127.0.0.1');
    let n = 0;
    s.on('data', (d: Buffer) => {
      n += d.length;
      s.pause();
      setTimeout(() => s.resume(), 1);
    });
    s.on('close', () => resolve(n));
    s.on('error', reject);
    s.write(`GET /big?size=${size} HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n`);
  });
  assert.ok(got > size && got < size + 200, `${got} bytes for a ${size}-byte body`);
});

test('drain: an idle connection closes at once, one with a response in progress after it, saying connection: close', async (t) => {
  let release: (() => void) | undefined;
  const { up } = await recordingUpstream(t, (req, res) => {
    req.resume();
    if (req.url === '/slow') release = () => res.end('slow');
    else res.end('ok');
  });
  // Inbound: an outbound listener keeps serving the app while anything is in flight.
  const p = await startTestProxy(snapshot([httpListener('in', routes(), { direction: 'inbound' })], [cluster('app', [up.port])]));
  const idle = net.connect(p.port(), '127.0.0.1');
  let idleText = '';
  idle.on('data', (d: Buffer) => (idleText += d));
  const idleClosed = new Promise((r) => idle.on('close', r));
  idle.write('GET /a HTTP/1.1\r\nHost: app\r\n\r\n');
  await eventually(() => assert.deepEqual(statuses(idleText), [200]));
  const busy = net.connect(p.port(), '127.0.0.1');
  let busyText = '';
  busy.on('data', (d: Buffer) => (busyText += d));
  const busyClosed = new Promise((r) => busy.on('close', r));
  busy.write('GET /slow HTTP/1.1\r\nHost: app\r\n\r\n');
  await eventually(() => assert.ok(release, 'the slow request reached the upstream'));
  const drained = p.proxy.drain(5000);
  await idleClosed;
  release!();
  await busyClosed;
  await drained;
  await p.close();
  assert.deepEqual(statuses(busyText), [200]);
  assert.match(busyText, /connection: close\r\n/i);
  assert.ok(busyText.endsWith('\r\n\r\nslow'));
});

test('a client that half-closes before its first bytes say what they are is closed, not left open', async (t) => {
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'all', destinations: [{ cluster: 'app' }] }])], [cluster('app', [1])]));
  t.after(() => p.close());
  for (const bytes of ['', 'GE', 'GET']) {
    const closed = await new Promise<boolean>((resolve) => {
      const s = net.connect(p.port(), '127.0.0.1', () => s.end(bytes));
      const timer = setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 3000);
      s.on('error', () => {});
      s.on('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
      s.resume();
    });
    assert.equal(closed, true, `after ${JSON.stringify(bytes)} and a half-close`);
  }
});
