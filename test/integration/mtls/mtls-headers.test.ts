// Headers and bodies cross the sidecar pair (h2 over mTLS) intact: repeated
// request and response fields, cookies, Host → :authority → Host, a POST body,
// trailers-free chunked answers; and a sidecar keeps answering after many
// exchanges on its one multiplexed session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { meshCa, identityFor, runProxy, calleeSnapshot, callerSnapshot } from './mtls-harness.ts';

type T = { after(fn: () => unknown): void };

/** An app that answers with what it received, and sets repeated response fields. */
async function headerApp(t: T): Promise<number> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
      res.setHeader('x-multi', ['one', 'two']);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, raw: req.rawHeaders, body }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

async function pair(t: T): Promise<number> {
  const ca = await meshCa(t);
  const callee = await runProxy(t, calleeSnapshot('payments', await headerApp(t)), await identityFor(t, ca, 'payments'));
  const caller = await runProxy(t, callerSnapshot('orders', 'payments', callee.port('in')), await identityFor(t, ca, 'orders'));
  return caller.port('out');
}

function send(port: number, opts: { method?: string; path: string; headers: [string, string][]; body?: string }, agent: http.Agent | false = false) {
  return new Promise<{ status: number; raw: string[]; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers.flat(), agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, raw: res.rawHeaders, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function values(raw: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

test('repeated fields, cookies and Host cross the mTLS pair both ways', async (t) => {
  const port = await pair(t);
  const r = await send(port, {
    path: '/pay?id=7',
    headers: [['Host', 'payments'], ['Cookie', 'c1=x'], ['Cookie', 'c2=y'], ['X-Trace-Me', 'p'], ['X-Trace-Me', 'q']],
  });
  assert.equal(r.status, 200, r.body);
  const seen = JSON.parse(r.body) as { method: string; url: string; raw: string[] };
  assert.equal(seen.url, '/pay?id=7');
  assert.deepEqual(values(seen.raw, 'host'), ['payments']);
  // Two Cookie lines from the client reach the HTTP/1.1 app as one (RFC 6265 §5.4, RFC 9113 §8.2.3).
  assert.deepEqual(values(seen.raw, 'cookie'), ['c1=x; c2=y']);
  assert.deepEqual(values(seen.raw, 'x-trace-me').join(', ').split(', '), ['p', 'q']);
  // Response: two Set-Cookie lines stay two lines; the repeated field keeps both values.
  assert.deepEqual(values(r.raw, 'set-cookie'), ['a=1; Path=/', 'b=2; Path=/']);
  assert.deepEqual(values(r.raw, 'x-multi').join(', ').split(', '), ['one', 'two']);
  assert.deepEqual(values(r.raw, 'content-type'), ['application/json']);
  assert.deepEqual(values(r.raw, 'connection').filter((v) => v !== 'keep-alive' && v !== 'close'), []);
});

test('a POST body crosses the pair; many exchanges on one session all answer', async (t) => {
  const port = await pair(t);
  const body = 'x'.repeat(100_000);
  const r = await send(port, { method: 'POST', path: '/upload', headers: [['Host', 'payments'], ['Content-Type', 'text/plain']], body });
  assert.equal(r.status, 200, r.body.slice(0, 200));
  const seen = JSON.parse(r.body) as { method: string; body: string };
  assert.equal(seen.method, 'POST');
  assert.equal(seen.body.length, body.length);

  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.after(() => agent.destroy());
  const results = await Promise.all(Array.from({ length: 400 }, (_, i) => send(port, { path: `/n${i}`, headers: [['Host', 'payments']] }, agent)));
  results.forEach((x, i) => {
    assert.equal(x.status, 200, x.body);
    assert.equal((JSON.parse(x.body) as { url: string }).url, `/n${i}`);
  });
});
