// WebSocket (Upgrade) echo, Server-Sent Events without buffering, opaque TCP
// echo, and server-speaks-first protocols not held up by detection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { httpUpstream, tcpUpstream } from '../../harness/upstream-servers.ts';
import { startTestProxy, snapshot, httpListener, cluster } from '../../harness/proxy-builder.ts';
import { eventually } from '../../harness/eventually.ts';
import { DEFAULT_OPAQUE_PORTS } from '../../../src/proxy/listeners/opaque-ports.ts';

test('WebSocket echo through the proxy (Upgrade piped raw after the 101)', async (t) => {
  const up = await httpUpstream((_req, res) => res.end('not a websocket'));
  const wss = new WebSocketServer({ server: up.server });
  wss.on('connection', (ws, req) => {
    ws.send(`hello ${req.headers.host} xff=${req.headers['x-forwarded-for']}`);
    ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary }));
  });
  t.after(() => up.close());
  t.after(() => wss.close());
  const p = await startTestProxy(
    snapshot([httpListener('out', [{ name: 'ws', match: { hosts: ['chat'] }, destinations: [{ cluster: 'chat' }] }])], [cluster('chat', [up.port])]),
  );
  t.after(() => p.close());
  const ws = new WebSocket(`ws://127.0.0.1:${p.port()}/socket`, { headers: { host: 'chat' } });
  t.after(() => ws.terminate());
  const messages: string[] = [];
  ws.on('message', (m) => messages.push(m.toString()));
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  ws.send('ping');
  ws.send(Buffer.alloc(100_000, 7));
  await eventually(() => assert.equal(messages.length, 3));
  assert.equal(messages[0], 'hello chat xff=127.0.0.1');
  assert.equal(messages[1], 'ping');
  assert.equal(messages[2]!.length, 100_000);
  ws.close();
  await eventually(() => assert.ok(p.logs().some((l) => l.protocol === 'upgrade' && l.status === 101)));
});

test('Server-Sent Events: each event reaches the client before the stream ends', async (t) => {
  let sendNext: (() => void) | undefined;
  const up = await httpUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let n = 0;
    sendNext = () => {
      n++;
      res.write(`data: event ${n}\n\n`);
      if (n === 3) res.end();
    };
    sendNext();
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'sse', destinations: [{ cluster: 'sse' }] }])], [cluster('sse', [up.port])]));
  t.after(() => p.close());
  const events = await new Promise<string[]>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: p.port(), path: '/events' }, (res) => {
        const got: string[] = [];
        res.on('data', (c: Buffer) => {
          got.push(c.toString());
          // The upstream sends the next event only after the client saw this one.
          sendNext?.();
        });
        res.on('end', () => resolve(got));
      })
      .on('error', reject);
  });
  assert.deepEqual(events, ['data: event 1\n\n', 'data: event 2\n\n', 'data: event 3\n\n']);
});

test('opaque TCP echo on a tcp listener, with an access-log line and TCP metrics', async (t) => {
  const up = await tcpUpstream((s) => s.pipe(s));
  t.after(() => up.close());
  const p = await startTestProxy(
    snapshot(
      [{ name: 'redis', address: '127.0.0.1', port: 0, direction: 'outbound', protocol: 'tcp', tcp: { destinations: [{ cluster: 'redis' }] } }],
      [cluster('redis', [up.port], { protocol: 'tcp' })],
    ),
  );
  t.after(() => p.close());
  const c = net.connect(p.port(), '127.0.0.1');
  const payload = Buffer.alloc(1_000_000, 1);
  let got = 0;
  c.on('data', (b: Buffer) => (got += b.length));
  c.write(payload);
  await eventually(() => assert.equal(got, payload.length));
  c.end();
  await eventually(() => {
    const line = p.logs().find((l) => l.kind === 'tcp');
    assert.ok(line);
    assert.equal(line.bytes_in, payload.length);
    assert.equal(line.bytes_out, payload.length);
    assert.equal(line.upstream, `127.0.0.1:${up.port}`);
  });
  const metrics = await (await fetch(`http://127.0.0.1:${p.adminPort()}/metrics`)).text();
  assert.match(metrics, /mesh_tcp_connections_total\{direction="outbound",listener="redis",source_service="orders",destination_service="redis"\} 1/);
  assert.match(metrics, new RegExp(`mesh_tcp_bytes_total\\{[^}]*flow="in"\\} ${payload.length}`));
});

async function freeOpaquePort(): Promise<number | undefined> {
  for (const port of DEFAULT_OPAQUE_PORTS) {
    if (port < 1024) continue;
    const ok = await new Promise<boolean>((r) => {
      const s = net.createServer();
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
    });
    if (ok) return port;
  }
  return undefined;
}

test('server-speaks-first: on a default opaque port an auto listener skips detection, the banner arrives at once', async (t) => {
  const up = await tcpUpstream((s) => {
    s.write('220 smtp ready\r\n');
    s.pipe(s);
  });
  t.after(() => up.close());
  const port = await freeOpaquePort();
  if (port === undefined) return t.skip('every default opaque port is taken on this machine');
  const p = await startTestProxy(
    snapshot(
      // A detection timeout far above the test's patience: only the opaque-port rule can deliver the banner.
      [{ name: 'smtp', address: '127.0.0.1', port, direction: 'outbound', protocol: 'auto', detectTimeoutMs: 60_000, tcp: { destinations: [{ cluster: 'smtp' }] } }],
      [cluster('smtp', [up.port], { protocol: 'tcp' })],
    ),
  );
  t.after(() => p.close());
  const c = net.connect(port, '127.0.0.1');
  t.after(() => c.destroy());
  const banner = await new Promise<string>((r) => c.once('data', (b: Buffer) => r(b.toString())));
  assert.equal(banner, '220 smtp ready\r\n');
});

test('auto listener on another port: no client bytes within detectTimeoutMs means opaque TCP', async (t) => {
  const up = await tcpUpstream((s) => s.write('+OK banner\r\n'));
  t.after(() => up.close());
  const p = await startTestProxy(
    snapshot(
      [{ name: 'x', address: '127.0.0.1', port: 0, direction: 'outbound', protocol: 'auto', detectTimeoutMs: 50, tcp: { destinations: [{ cluster: 'x' }] } }],
      [cluster('x', [up.port], { protocol: 'tcp' })],
    ),
  );
  t.after(() => p.close());
  const c = net.connect(p.port(), '127.0.0.1');
  t.after(() => c.destroy());
  const banner = await new Promise<string>((r) => c.once('data', (b: Buffer) => r(b.toString())));
  assert.equal(banner, '+OK banner\r\n');
});

test('auto listener: non-HTTP client bytes go to the tcp destination, HTTP to the routes', async (t) => {
  const tcp = await tcpUpstream((s) => s.pipe(s));
  t.after(() => tcp.close());
  const web = await httpUpstream((_q, s) => s.end('web'));
  t.after(() => web.close());
  const p = await startTestProxy(
    snapshot(
      [httpListener('mixed', [{ name: 'web', destinations: [{ cluster: 'web' }] }], { tcp: { destinations: [{ cluster: 'raw' }] } })],
      [cluster('raw', [tcp.port], { protocol: 'tcp' }), cluster('web', [web.port])],
    ),
  );
  t.after(() => p.close());
  const c = net.connect(p.port(), '127.0.0.1');
  t.after(() => c.destroy());
  c.write(Buffer.from([0x16, 0x03, 0x01, 0x00]));
  const echoed = await new Promise<Buffer>((r) => c.once('data', r));
  assert.deepEqual([...echoed], [0x16, 0x03, 0x01, 0x00]);
  const r = await fetch(`http://127.0.0.1:${p.port()}/`);
  assert.equal(await r.text(), 'web');
});

test('auto listener with only a tcp destination carries HTTP opaquely', async (t) => {
  const web = await httpUpstream((req, res) => res.end(`raw ${req.headers.host} ${req.headers['x-forwarded-for'] ?? 'no-xff'}`));
  t.after(() => web.close());
  const p = await startTestProxy(
    snapshot(
      [{ name: 'opaque', address: '127.0.0.1', port: 0, direction: 'outbound', protocol: 'auto', tcp: { destinations: [{ cluster: 'web' }] } }],
      [cluster('web', [web.port], { protocol: 'tcp' })],
    ),
  );
  t.after(() => p.close());
  const r = await fetch(`http://127.0.0.1:${p.port()}/`);
  // No x-forwarded-for: the proxy did not parse or rewrite the request.
  assert.equal(await r.text(), `raw 127.0.0.1:${p.port()} no-xff`);
});
