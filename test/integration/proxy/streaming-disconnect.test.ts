// Large bodies stream with flat memory; a client that leaves mid-response
// frees the upstream request (no stuck upstream connection).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Readable } from 'node:stream';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpUpstream, closedPort } from '../../harness/upstream-servers.ts';
import { startTestProxy, snapshot, httpListener, cluster } from '../../harness/proxy-builder.ts';
import { request } from '../../harness/http-client.ts';
import { eventually } from '../../harness/eventually.ts';

const GB = 1024 * 1024 * 1024;
const main = new URL('../../../src/cli/main.ts', import.meta.url).pathname;

function zeros(total: number): Readable {
  const chunk = Buffer.alloc(256 * 1024);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return this.push(null);
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

// RSS of another process, from /proc (Linux).
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

test('a 1 GB upload and a 1 GB download pass through `meshctl proxy` with its RSS flat', { timeout: 300_000, skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const up = await httpUpstream((req, res) => {
    if (req.method === 'POST') {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(String(n)));
      return;
    }
    res.writeHead(200, { 'content-length': GB });
    zeros(GB).pipe(res);
  });
  t.after(() => up.close());
  // The proxy runs as its own process so its RSS is measured alone.
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-stream-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await closedPort();
  const file = join(dir, 'snapshot.json');
  writeFileSync(file, JSON.stringify(snapshot([httpListener('out', [{ name: 'big', destinations: [{ cluster: 'big' }] }], { port })], [cluster('big', [up.port])])));
  const child = spawn(process.execPath, [main, 'proxy', '--config', file, '--admin', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  await eventually(async () => assert.equal((await request(port, { method: 'POST', body: '' })).status, 200));
  // Warm up the paths once with a modest body, then take the baseline.
  await new Promise<void>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/up', agent: false }, (res) => res.resume().on('end', resolve));
    req.on('error', reject);
    zeros(64 * 1024 * 1024).pipe(req);
  });
  const base = rssOf(child.pid!);
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(child.pid!))), 20);
  t.after(() => clearInterval(sampler));

  const uploaded = await new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/up', agent: false }, (res) => {
      let s = '';
      res.on('data', (c: Buffer) => (s += c));
      res.on('end', () => resolve(s));
    });
    req.on('error', reject);
    zeros(GB).pipe(req);
  });
  assert.equal(Number(uploaded), GB);

  let downloaded = 0;
  await new Promise<void>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/down', agent: false }, (res) => {
        res.on('data', (c: Buffer) => (downloaded += c.length));
        res.on('end', resolve);
        res.on('error', reject);
      })
      .on('error', reject);
  });
  assert.equal(downloaded, GB);
  clearInterval(sampler);
  const growthMb = (peak - base) / 1024 / 1024;
  // Two GB crossed the proxy; buffering even 6% of one body would show here.
  assert.ok(growthMb < 64, `proxy RSS grew by ${growthMb.toFixed(1)} MB (from ${(base / 1048576).toFixed(1)} MB)`);
});

test('a client that disconnects mid-response aborts the upstream request', async (t) => {
  let upstreamClosed = 0;
  let upstreamRequests = 0;
  const up = await httpUpstream((req, res) => {
    upstreamRequests++;
    if (req.url === '/ok') return res.end('ok');
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    // An endless body: only a client-driven abort ends it.
    const timer = setInterval(() => res.write(Buffer.alloc(16 * 1024)), 5);
    res.on('close', () => {
      clearInterval(timer);
      upstreamClosed++;
    });
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'inf', destinations: [{ cluster: 'inf' }] }])], [cluster('inf', [up.port], { connectionLimits: { maxConnections: 1 } })]));
  t.after(() => p.close());
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: p.port(), path: '/forever', agent: false }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (n > 100_000) req.destroy();
        });
        res.on('close', () => resolve());
      });
      req.on('error', () => resolve());
    });
    await eventually(() => assert.equal(upstreamClosed, i + 1));
  }
  // With a single upstream connection allowed, a stuck one would block this request.
  assert.equal((await request(p.port(), { path: '/ok' })).body, 'ok');
  assert.equal(upstreamRequests, 4);
  await eventually(() => assert.equal(p.logs().filter((l) => String(l.error).startsWith('downstream-reset')).length, 3));
});
