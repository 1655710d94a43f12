// Slow and stuck clients at a real proxy process: slowloris (headers trickled
// a few bytes at a time) is cut by the header timeout, and a client that never
// reads its response cannot make the proxy buffer the upstream's body
// (backpressure: bounded bytes pulled from the upstream, bounded RSS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { eventually } from '../../harness/eventually.ts';
import { cluster, httpListener, snapshot } from '../../harness/proxy-builder.ts';
import { httpUpstream } from '../../harness/upstream-servers.ts';
import { startProxyProcess } from './proxy-process.ts';

async function okUpstream(t: { after(fn: () => Promise<void>): void }, handler?: http.RequestListener) {
  const up = await httpUpstream(handler ?? ((_req, res) => res.end('ok')));
  t.after(() => up.close());
  return up;
}

const normal = async (port: number) => {
  const res = await fetch(`http://127.0.0.1:${port}/normal`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
};

test('slowloris: headers trickled byte by byte get 408 and a close once the header timeout passes; other clients are served meanwhile', async (t) => {
  const up = await okUpstream(t);
  // 1.5 s instead of the 60 s default, so the test is short; the mechanism is the same.
  const p = await startProxyProcess(snapshot([httpListener('out', [{ name: 'all', destinations: [{ cluster: 'app' }] }])], [cluster('app', [up.port])]), {
    env: { MESH_PROXY_HEADERS_TIMEOUT_MS: '1500' },
  });
  t.after(() => p.close());
  const sockets: net.Socket[] = [];
  const answers: string[] = [];
  let closed = 0;
  for (let i = 0; i < 20; i++) {
    const s = net.connect(p.port, '127.0.0.1');
    sockets.push(s);
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('close', () => {
      closed++;
      answers.push(text);
    });
    s.on('error', () => {});
    s.write('GET / HTTP/1.1\r\nHost: app\r\n');
  }
  // A byte every 100 ms per socket: always busy, never done.
  const timer = setInterval(() => {
    for (const s of sockets) if (!s.destroyed) s.write('X');
  }, 100);
  t.after(() => {
    clearInterval(timer);
    for (const s of sockets) s.destroy();
  });
  await normal(p.port);
  await eventually(() => assert.equal(closed, 20, `${closed}/20 slow connections closed by the proxy`), { timeoutMs: 20_000, intervalMs: 100 });
  for (const a of answers) assert.match(a, /^HTTP\/1\.1 408 /);
  await eventually(() => assert.ok(p.logs().filter((l) => String(l.error).includes('ERR_HTTP_REQUEST_TIMEOUT')).length >= 20, 'each cut is logged'));
  await normal(p.port);
});

test('a client that never reads its response: the proxy stops pulling from the upstream (bounded bytes) and its memory stays bounded', async (t) => {
  let pulled = 0;
  let stalled = false;
  const chunk = Buffer.alloc(64 * 1024, 'z');
  // 1 GiB on offer, written only as fast as the proxy takes it.
  const up = await okUpstream(t, (req, res) => {
    if (req.url !== '/big') return void res.end('ok');
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const pump = () => {
      while (pulled < 2 ** 30) {
        pulled += chunk.length;
        if (!res.write(chunk)) {
          stalled = true;
          res.once('drain', () => {
            stalled = false;
            pump();
          });
          return;
        }
      }
      res.end();
    };
    pump();
    res.on('close', () => (stalled = false));
  });
  const p = await startProxyProcess(snapshot([httpListener('out', [{ name: 'all', destinations: [{ cluster: 'app' }] }])], [cluster('app', [up.port])]));
  t.after(() => p.close());
  const rssBefore = p.rss();
  // Four clients that send a request and never read a byte.
  const stuck: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = net.connect({ port: p.port, host: '127.0.0.1' });
    s.on('error', () => {});
    s.write('GET /big HTTP/1.1\r\nHost: app\r\n\r\n');
    s.pause();
    stuck.push(s);
  }
  t.after(() => stuck.forEach((s) => s.destroy()));
  // The upstream is held back: pulled stops growing.
  let last = -1;
  await eventually(
    () => {
      const now = pulled;
      const steady = now === last && stalled;
      last = now;
      assert.ok(steady, `upstream still being read: ${now} bytes`);
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  );
  await normal(p.port);
  const rssGrowth = p.rss() - rssBefore;
  // Socket buffers and stream high-water marks, a few MiB per connection; nothing near the 4 GiB on offer.
  assert.ok(pulled < 64 * 2 ** 20, `the proxy pulled ${(pulled / 2 ** 20).toFixed(1)} MiB for clients that read nothing`);
  assert.ok(rssGrowth < 96 * 2 ** 20, `proxy RSS grew ${(rssGrowth / 2 ** 20).toFixed(1)} MiB`);
  t.diagnostic(`pulled ${(pulled / 2 ** 20).toFixed(1)} MiB from the upstream for 4 clients that read nothing; proxy RSS +${(rssGrowth / 2 ** 20).toFixed(1)} MiB`);
});
