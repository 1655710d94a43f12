// Connect timeouts on HTTP/2 over TLS and TLS-wrapped TCP (a listener that
// accepts and never answers the handshake), and circuit breaking and rate
// limits on opaque TCP listeners, over real sockets.
// Plain TCP and h2c connects cannot be made to hang on loopback: plain TCP is
// tested with a stubbed never-connecting socket; h2c runs the same session
// timer as h2 over TLS (UpstreamEndpoint.http2Session), untested on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { request } from '../../harness/http-client.ts';
import { eventually } from '../../harness/eventually.ts';
import { tcpUpstream } from '../../harness/upstream-servers.ts';
import { cluster, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { callerSnapshot, identityFor, meshCa, metricValue, runProxy } from '../mtls/mtls-harness.ts';
import { metric } from './metric-value.ts';

type T = import('node:test').TestContext;

/** A TCP server that accepts and never says a word: a TLS handshake to it never completes. */
async function silentServer(t: T): Promise<number> {
  const held: net.Socket[] = [];
  const server = net.createServer((s) => void held.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const s of held) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return (server.address() as net.AddressInfo).port;
}

/** Connects, sends `payload`, and resolves with what came back once the proxy closes the connection. */
function tcpExchange(port: number, payload = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = net.connect(port, '127.0.0.1', () => {
      if (payload) s.write(payload);
    });
    s.on('data', (c: Buffer) => (got += c.toString()));
    s.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(got) : reject(err)));
    s.on('close', () => resolve(got));
  });
}

test('h2 over TLS: a handshake that never completes answers 504 timeout connect, and is retried as a connect failure', async (t) => {
  const ca = await meshCa(t);
  const id = await identityFor(t, ca, 'orders');
  const [a, b] = [await silentServer(t), await silentServer(t)];
  const snap = callerSnapshot('orders', 'payments', a);
  const c = snap.clusters![0]!;
  c.endpoints = [a, b].map((port) => ({ address: '127.0.0.1', port }));
  c.timeouts = { connectMs: 150 };
  c.lb = 'round_robin';
  snap.listeners![0]!.routes![0]!.retries = { attempts: 1, backoff: { baseMs: 1, maxMs: 1 } };
  const p = await runProxy(t, snap, id);
  const r = await request(p.port('out'), { headers: { host: 'payments' } });
  assert.equal(r.status, 504);
  assert.match(String(r.headers['x-mesh-error']), /^timeout connect out:payments 127\.0\.0\.1:\d+ /);
  assert.equal(r.headers['x-mesh-attempts'], '2');
  const m = await p.metrics();
  assert.equal(metricValue(m, 'mesh_retries_total', { cluster: 'out:payments', reason: 'connect-failure' }), 1);
  assert.equal(metricValue(m, 'mesh_timeouts_total', { listener: 'out', kind: 'connect' }), 1);
  const line = p.logs().find((l) => l.kind !== 'tcp' && typeof l.error === 'string');
  assert.match(String(line?.error), /timeout connect out:payments/);
});

test('TLS-wrapped TCP: a handshake that never completes closes the client with timeout connect', async (t) => {
  const ca = await meshCa(t);
  const id = await identityFor(t, ca, 'orders');
  const port = await silentServer(t);
  const snap = callerSnapshot('orders', 'payments', port, { protocol: 'tcp' });
  snap.clusters![0]!.timeouts = { connectMs: 150 };
  const p = await runProxy(t, snap, id);
  assert.equal(await tcpExchange(p.port('out'), 'PING\r\n'), '');
  await eventually(() => assert.ok(p.logs().some((l) => l.kind === 'tcp')));
  const line = p.logs().find((l) => l.kind === 'tcp')!;
  assert.match(String(line.error), /^timeout connect out:payments 127\.0\.0\.1:\d+$/);
  assert.equal(metricValue(await p.metrics(), 'mesh_timeouts_total', { listener: 'out', kind: 'connect' }), 1);
});

test('TCP circuit breaking: over maxConnections the client is closed at once, counted and logged', async (t) => {
  const open: net.Socket[] = [];
  const up = await tcpUpstream((s) => {
    open.push(s);
    s.pipe(s);
  });
  t.after(() => up.close());
  const limits = { maxConnections: 1, maxPendingRequests: 1, maxRequests: 100 };
  const p = await startTestProxy(
    snapshot(
      [{ name: 'redis', address: '127.0.0.1', port: 0, direction: 'outbound', protocol: 'tcp', tcp: { destinations: [{ cluster: 'redis' }] } }],
      [cluster('redis', [up.port], { protocol: 'tcp', connectionLimits: limits })],
    ),
  );
  t.after(() => p.close());
  const first = net.connect(p.port(), '127.0.0.1');
  t.after(() => first.destroy());
  first.write('one');
  await eventually(() => assert.equal(open.length, 1));
  // The second connection never reaches the upstream: closed without a byte.
  assert.equal(await tcpExchange(p.port(), 'two'), '');
  assert.equal(open.length, 1);
  assert.equal(await metric(p.adminPort(), 'mesh_circuit_open_total', { cluster: 'redis', limit: 'max-connections' }), 1);
  assert.ok(p.logs().some((l) => l.kind === 'tcp' && l.error === 'circuit-open redis max-connections 1'));
  // Closing the first gives its slot back.
  first.destroy();
  await eventually(async () => {
    const s = net.connect(p.port(), '127.0.0.1');
    try {
      const echoed = await new Promise<string>((resolve, reject) => {
        s.once('data', (c: Buffer) => resolve(c.toString()));
        s.once('close', () => reject(new Error('closed')));
        s.write('three');
      });
      assert.equal(echoed, 'three');
    } finally {
      s.destroy();
    }
  });
});

test('TCP listener rate limit: a connection over the limit is closed at once, counted and logged', async (t) => {
  const up = await tcpUpstream((s) => s.pipe(s));
  t.after(() => up.close());
  // Two tokens, refilled once a minute: the third connection is over the limit.
  const rateLimit = { requestsPerSecond: 1 / 60, burst: 2, key: 'source' as const };
  const p = await startTestProxy(
    snapshot(
      [{ name: 'redis', address: '127.0.0.1', port: 0, direction: 'outbound', protocol: 'tcp', rateLimit, tcp: { destinations: [{ cluster: 'redis' }] } }],
      [cluster('redis', [up.port], { protocol: 'tcp' })],
    ),
  );
  t.after(() => p.close());
  const kept: net.Socket[] = [];
  t.after(() => kept.forEach((s) => s.destroy()));
  for (const word of ['a', 'b']) {
    const s = net.connect(p.port(), '127.0.0.1');
    kept.push(s);
    const echoed = await new Promise<string>((resolve) => {
      s.once('data', (c: Buffer) => resolve(c.toString()));
      s.write(word);
    });
    assert.equal(echoed, word);
  }
  assert.equal(await tcpExchange(p.port(), 'c'), '');
  assert.equal(await metric(p.adminPort(), 'mesh_rate_limited_total', { listener: 'redis', scope: 'listener' }), 1);
  await eventually(() => assert.ok(p.logs().some((l) => l.kind === 'tcp' && /^rate-limited listener redis /.test(String(l.error)))));
});


test('plain TCP: a connect that does not complete in time closes the client with timeout connect', async (t) => {
  // A loopback connect completes at once: the proxy is handed a socket that never connects instead
  // (net.connect stubbed for one reserved port; the client and proxy sockets stay real).
  const port = await silentServer(t);
  const real = net.connect;
  t.mock.method(net, 'connect', (...args: unknown[]) => {
    const o = args[0] as { port?: number } | undefined;
    if (typeof o !== 'object' || o === null || o.port !== port) return (real as (...a: unknown[]) => net.Socket)(...args);
    const s = new net.Socket();
    Object.defineProperty(s, 'connecting', { value: true, configurable: true });
    return s;
  });
  const p = await startTestProxy(
    snapshot(
      [{ name: 'redis', address: '127.0.0.1', port: 0, direction: 'outbound', protocol: 'tcp', tcp: { destinations: [{ cluster: 'redis' }] } }],
      [cluster('redis', [port], { protocol: 'tcp', timeouts: { connectMs: 100 } })],
    ),
  );
  t.after(() => p.close());
  assert.equal(await tcpExchange(p.port(), 'PING\r\n'), '');
  await eventually(() => assert.ok(p.logs().some((l) => l.kind === 'tcp' && l.error === `timeout connect redis 127.0.0.1:${port}`)));
  assert.equal(await metric(p.adminPort(), 'mesh_timeouts_total', { listener: 'redis', kind: 'connect' }), 1);
});
