// 100 weight changes in a row (PUT /v1/overrides, the API `meshctl canary
// set` uses) on a live mesh — a real controller and two real proxies over
// mTLS, product running v1 and v2 — while a WebSocket and an HTTP/2 stream
// stay open through both sidecars and short requests keep flowing.
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { freePort } from '../src/cli/up/host-ports.ts';
import { controllerProcess } from '../test/harness/controller-process.ts';
import { startProxy } from '../src/proxy/proxy.ts';
import { startConfigClient } from '../src/proxy/config-client.ts';
import { identityFromController } from '../src/proxy/identity/controller-signer.ts';
import { api, tempDir, TOKEN, writeWorkloads } from '../test/harness/controller-harness.ts';
import { eventually } from '../test/harness/eventually.ts';
import { figures, startLoad } from './load.ts';
import { check, verdict, type RunOptions, type ScenarioResult } from './scenario.ts';

const WEB_OUT = '127.0.30.3';

/** An app answering GET / with its version, GET /stream with a chunk every 50 ms until the client leaves, and WebSocket echo. */
async function app(version: string, host: string, port: number) {
  const server = http.createServer((req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-version': version });
      const timer = setInterval(() => res.write(`${version}\n`), 50);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.writeHead(200, { 'x-version': version }).end(version);
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`${version}:${m.toString()}`)));
  await new Promise<void>((r) => server.listen(port, host, r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => (server.closeAllConnections(), wss.close(), server.close(() => r()))) };
}

export async function weightsWithStreams(opts: RunOptions): Promise<ScenarioResult> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const t = { after: (fn: () => Promise<void> | void) => void cleanups.push(fn) };
  try {
    const dir = tempDir(t);
    const v1 = await app('v1', '127.0.40.1', 0);
    cleanups.push(v1.close);
    const v2 = await app('v2', '127.0.40.5', v1.port);
    cleanups.push(v2.close);
    const port = v1.port;
    writeWorkloads(join(dir, 'workloads.json'), [
      { id: 'web-mesh', service: 'web', role: 'proxy', addresses: { mesh: '127.0.30.2', 'web-net': WEB_OUT } },
      { id: 'product-v1', service: 'product', version: 'v1', role: 'app', addresses: { 'product-net': '127.0.40.1' }, ports: [port] },
      { id: 'product-v2', service: 'product', version: 'v2', role: 'app', addresses: { 'product-net': '127.0.40.5' }, ports: [port] },
      { id: 'product-mesh', service: 'product', role: 'proxy', addresses: { mesh: '127.0.40.2', 'product-net': '127.0.40.3' } },
    ]);
    // The controller in its own process (as in production), so its 100 rebuilds do not share the proxies' thread.
    writeFileSync(join(dir, 'mesh.config.json'), JSON.stringify({ services: { product: { ports: [port], retries: { attempts: 0 } } } }));
    const ctl = await controllerProcess(t, dir, await freePort());
    for (const service of ['web', 'product']) {
      const identity = await identityFromController({ url: ctl.url, bearer: TOKEN, service, timeoutMs: 10_000 });
      cleanups.push(() => identity.close());
      const handle = await startProxy({ admin: { host: '127.0.0.1', port: 0 }, accessLog: (process.env.RELIABILITY_ACCESS_LOG ? process.stderr : { write: () => true }) as unknown as NodeJS.WritableStream, identity });
      cleanups.push(() => handle.close());
      const c = startConfigClient({ url: ctl.url, token: TOKEN, service, proxyId: `${service}-mesh`, handle });
      cleanups.push(() => c.close());
    }
    const proxies = async () => (await api(ctl.url, 'GET', '/v1/proxies')).body.proxies as { proxyId: string; inSync: boolean; ack?: { version: number } }[];
    const inSync = () => eventually(async () => assert.ok((await proxies()).filter((p) => p.inSync).length === 2), { timeoutMs: 30_000, intervalMs: 50 });
    await inSync();

    // The WebSocket: a message every 50 ms, each echoed by the version it landed on.
    const ws = new WebSocket(`ws://${WEB_OUT}:${port}/ws`, { headers: { host: 'product' } });
    cleanups.push(() => ws.terminate());
    let echoes = 0;
    let wsEnded = '';
    ws.on('message', () => echoes++);
    ws.on('close', (code) => (wsEnded ||= `closed ${code}`));
    ws.on('error', (err) => (wsEnded ||= `error ${err.message}`));
    await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
    const wsTimer = setInterval(() => ws.readyState === ws.OPEN && ws.send('ping'), 50);
    cleanups.push(() => clearInterval(wsTimer));

    // The HTTP/2 stream: h2c with prior knowledge to web's sidecar, a chunk every 50 ms.
    const h2 = http2.connect(`http://${WEB_OUT}:${port}`);
    cleanups.push(() => void h2.destroy());
    let chunks = 0;
    let h2Ended = '';
    h2.on('error', (err) => (h2Ended ||= `session error ${err.message}`));
    h2.on('goaway', (code) => (h2Ended ||= `goaway ${code}`));
    const stream = h2.request({ ':path': '/stream', ':authority': 'product' });
    stream.on('data', () => chunks++);
    stream.on('error', (err) => (h2Ended ||= `stream error ${err.message}`));
    stream.on('close', () => (h2Ended ||= `stream closed (rst ${stream.rstCode})`));
    await eventually(() => assert.ok(chunks > 2 && echoes > 2), { timeoutMs: 10_000 });

    // The proxies share this thread with the test's clients: how long it stalled says whether a failure is theirs.
    const loopDelay = monitorEventLoopDelay({ resolution: 20 });
    loopDelay.enable();
    const rate = 50;
    const load = startLoad({ base: `http://${WEB_OUT}:${port}`, paths: ['/'], rate, headers: { host: 'product' } });
    const t0 = Date.now();
    await sleep(1000);
    const versionBefore = (await proxies()).find((p) => p.proxyId === 'product-mesh')?.ack?.version ?? 0;
    const changes = 100;
    let accepted = 0;
    for (let i = 1; i <= changes; i++) {
      const w = i % 100;
      const r = await api(ctl.url, 'PUT', '/v1/overrides', { service: 'product', weights: { v1: 100 - w, v2: w } });
      if (r.status === 200) accepted++;
    }
    await inSync();
    const versionAfter = (await proxies()).find((p) => p.proxyId === 'product-mesh')?.ack?.version ?? 0;
    const [chunksAt, echoesAt] = [chunks, echoes];
    await sleep(opts.quick ? 1500 : 5000);
    const f = figures(await load.stop());
    loopDelay.disable();
    const seconds = Math.round((Date.now() - t0) / 1000);
    return verdict({
      id: 'weights-with-streams',
      title: '100 weight changes in a row (PUT /v1/overrides) with a WebSocket and an HTTP/2 stream open through two sidecars (mTLS between them)',
      level: 'integration (loopback)',
      load: { rate, seconds, what: 'GET / from web to product (v1/v2) through both sidecars' },
      figures: f,
      promise: 'zero failed requests; neither the WebSocket nor the HTTP/2 stream is reset, both still carry data after the last change',
      checks: [
        check('100 changes accepted', accepted === changes, `${accepted}/${changes}`),
        check("product's proxy applied new snapshots", versionAfter > versionBefore, `acked version ${versionBefore} → ${versionAfter}`),
        check('zero failed', f.failed === 0, `${f.failed} failed`),
        check('WebSocket still open and echoing', wsEnded === '' && echoes > echoesAt, wsEnded || `${echoes - echoesAt} echoes after the changes`),
        check('HTTP/2 stream still open and flowing', h2Ended === '' && chunks > chunksAt, h2Ended || `${chunks - chunksAt} chunks after the changes`),
      ],
      notes: [`The proxies' event loop stalled at most ${(loopDelay.max / 1e6).toFixed(0)} ms (p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms) during the run.`, 'The apps speak HTTP/1.1; the HTTP/2 stream is h2c from the client to web\'s sidecar and h2 over mTLS between the sidecars (a gRPC stream rides the same path).'],
    });
  } finally {
    for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => {});
  }
}
