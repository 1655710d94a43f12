// What the HTTP/1 upstream client costs a Node proxy: a bare node:http front
// (no routing, no filters, no telemetry) forwarding every request to the same
// upstream with one of several clients, measured as CPU µs per request of the
// front process (utime + stime from /proc over the run, divided by the requests
// wrk completed). Variants run in turn, several rounds, so a noisy moment of the
// shared machine hits them all alike; the median per variant is printed.
//
//   node bench/forwarding-clients.ts                       # all variants, 3 rounds, wrk -c16 for 5 s
//   node bench/forwarding-clients.ts --variants undici,agent --rounds 5
//   node bench/forwarding-clients.ts --rate 1000           # open loop at 1,000 req/s instead of wrk
//   node bench/forwarding-clients.ts --upstream node       # a Node upstream instead of HAProxy
//
// Variants:
//   direct  the front answers 1 KB itself: the cost of the node:http server side alone
//   undici  undici Pool.dispatch with a DispatchHandler, as src/proxy/clusters/http1-forwarder.ts
//   agent   node:http request() with a keep-alive Agent, response piped back
//   raw     a minimal keep-alive HTTP/1.1 client on net.Socket (Content-Length responses, GET only:
//           for measurement, not a proxy)
//   meshctl the sidecar itself, one hop (src/cli/main.ts proxy), for reference
//
// Child mode (started by the script): node bench/forwarding-clients.ts --serve <variant> <port> <host> <upstream-port>
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Dispatcher, Pool } from 'undici';

const CONNECTIONS = 64;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

/** Request headers for the upstream as a flat [name, value, ...] list, hop-by-hop ones dropped. */
function forwardHeaders(raw: string[], host: string): string[] {
  const out: string[] = ['host', host];
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

/** Response headers for the client, hop-by-hop ones dropped (raw may hold Buffers, as undici gives them). */
function backHeaders(raw: (string | Buffer)[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = String(raw[i]);
    const lower = name.toLowerCase();
    if (lower === 'connection' || lower === 'keep-alive' || lower === 'transfer-encoding') continue;
    out.push(name, String(raw[i + 1]));
  }
  return out;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function undiciHandler(host: string, port: number): Handler {
  const PoolImpl = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof Pool;
  const pool = new PoolImpl(`http://${host}:${port}`, { connections: CONNECTIONS, pipelining: 1, keepAliveTimeout: 4000, headersTimeout: 0, bodyTimeout: 0 });
  const authority = `${host}:${port}`;
  return (req, res) => {
    const h: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart(controller, status, _headers, statusText) {
        const raw = (controller as unknown as { rawHeaders: Buffer[] }).rawHeaders;
        res.writeHead(status, statusText || undefined, backHeaders(raw) as unknown as http.OutgoingHttpHeaders);
      },
      onResponseData(controller, chunk) {
        if (!res.write(chunk)) {
          controller.pause();
          res.once('drain', () => controller.resume());
        }
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError(_c, err) {
        if (!res.headersSent) res.writeHead(502).end(err.message);
        else res.destroy();
      },
    };
    pool.dispatch({ path: req.url!, method: req.method as Dispatcher.HttpMethod, headers: forwardHeaders(req.rawHeaders, authority), body: null }, h);
  };
}

function agentHandler(host: string, port: number): Handler {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS, scheduling: 'lifo' });
  const authority = `${host}:${port}`;
  return (req, res) => {
    const up = http.request({ host, port, agent, method: req.method, path: req.url, headers: forwardHeaders(req.rawHeaders, authority) as unknown as http.OutgoingHttpHeaders }, (ures) => {
      res.writeHead(ures.statusCode!, ures.statusMessage, backHeaders(ures.rawHeaders) as unknown as http.OutgoingHttpHeaders);
      ures.pipe(res);
    });
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502).end(err.message);
      else res.destroy();
    });
    up.end();
  };
}

/** Minimal keep-alive client: one request at a time per socket, Content-Length responses only. */
class RawConnection {
  readonly socket: net.Socket;
  private res: http.ServerResponse | undefined;
  private head: Buffer | undefined;
  private remaining = 0;
  private readonly release: (c: RawConnection) => void;

  constructor(host: string, port: number, release: (c: RawConnection) => void) {
    this.release = release;
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', () => {});
    this.socket.on('close', () => this.res?.destroy());
  }

  send(head: string, res: http.ServerResponse): void {
    this.res = res;
    this.socket.write(head, 'latin1');
  }

  private onData(d: Buffer): void {
    const res = this.res;
    if (!res) return;
    if (!res.headersSent) {
      const buf = this.head ? Buffer.concat([this.head, d]) : d;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        this.head = buf;
        return;
      }
      this.head = undefined;
      const lines = buf.toString('latin1', 0, end).split('\r\n');
      const status = Number(lines[0]!.slice(9, 12));
      const raw: string[] = [];
      for (let i = 1; i < lines.length; i++) {
        const l = lines[i]!;
        const c = l.indexOf(':');
        const name = l.slice(0, c);
        const value = l.slice(c + 1).trim();
        if (name.length === 14 && name.toLowerCase() === 'content-length') this.remaining = Number(value);
        raw.push(name, value);
      }
      res.writeHead(status, backHeaders(raw) as unknown as http.OutgoingHttpHeaders);
      d = buf.subarray(end + 4);
    }
    if (d.length === 0 && this.remaining > 0) return;
    this.remaining -= d.length;
    if (this.remaining <= 0) {
      this.res = undefined;
      res.end(d);
      this.release(this);
    } else res.write(d);
  }
}

function rawHandler(host: string, port: number): Handler {
  const idle: RawConnection[] = [];
  const queue: [string, http.ServerResponse][] = [];
  let open = 0;
  const authority = `${host}:${port}`;
  const release = (c: RawConnection) => {
    const next = queue.shift();
    if (next) c.send(next[0], next[1]);
    else idle.push(c);
  };
  return (req, res) => {
    const h = forwardHeaders(req.rawHeaders, authority);
    let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < h.length; i += 2) head += `${h[i]}: ${h[i + 1]}\r\n`;
    head += '\r\n';
    const c = idle.pop();
    if (c) c.send(head, res);
    else if (open < CONNECTIONS) {
      open++;
      new RawConnection(host, port, release).send(head, res);
    } else queue.push([head, res]);
  };
}

function directHandler(): Handler {
  const body = Buffer.alloc(1024, 'x');
  return (_req, res) => {
    res.writeHead(200, ['content-type', 'text/plain', 'content-length', '1024'] as unknown as http.OutgoingHttpHeaders);
    res.end(body);
  };
}

function serve(variant: string, port: number, host: string, upstreamPort: number): void {
  const handler = variant === 'undici' ? undiciHandler(host, upstreamPort) : variant === 'agent' ? agentHandler(host, upstreamPort) : variant === 'raw' ? rawHandler(host, upstreamPort) : directHandler();
  const server = http.createServer({ keepAliveTimeout: 60_000 }, handler);
  server.listen(port, '127.0.0.1', () => process.send?.('ready'));
}

async function main(): Promise<void> {
  const { values: o } = parseArgs({
    options: {
      variants: { type: 'string', default: 'direct,undici,agent,raw,meshctl' },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '5' },
      connections: { type: 'string', default: '16' },
      rate: { type: 'string' },
      upstream: { type: 'string', default: 'haproxy' },
      meshctl: { type: 'string', default: 'src' },
    },
  });
  const { ProcessGroup } = await import('./lib/process-group.ts');
  const { startUpstream } = await import('./upstream/start-upstream.ts');
  const { buildChain } = await import('./run-scenario.ts');
  const { meshctlEntries, meshctlSettings } = await import('./hops/meshctl.ts');
  const { buildMeshctl } = await import('./hops/build-meshctl.ts');
  const { cpuSeconds } = await import('./lib/proc-stats.ts');
  const { runMax } = await import('./lib/max-throughput.ts');
  const { runOpenLoop } = await import('./lib/open-loop.ts');
  const { freePort, httpGet, waitUntil } = await import('./lib/net.ts');

  const tmp = mkdtempSync(join(tmpdir(), 'meshctl-fwd-'));
  meshctlSettings.entry = o.meshctl === 'src' || o.meshctl === 'dist' ? meshctlEntries[o.meshctl] : o.meshctl === 'build' ? buildMeshctl((s) => process.stderr.write(`${s}\n`)) : o.meshctl;
  const procs = new ProcessGroup();
  const upstream = await startUpstream(o.upstream as 'haproxy' | 'node', procs, tmp, 1024);
  const variants = o.variants.split(',');
  const script = fileURLToPath(import.meta.url);
  const fronts = new Map<string, { pid: number; url: string }>();
  for (const v of variants) {
    if (v === 'meshctl') {
      const chain = await buildChain({ id: 'fwd', label: 'meshctl 1 hop', hops: [{ kind: 'meshctl-http' }] }, upstream.address, procs, tmp);
      fronts.set(v, { pid: chain.hops[0]!.process.pid, url: `http://${chain.entry.host}:${chain.entry.port}/` });
      continue;
    }
    const port = await freePort();
    const p = procs.start(`front ${v}`, process.execPath, [script, '--serve', v, String(port), upstream.address.host, String(upstream.address.port)]);
    const url = `http://127.0.0.1:${port}/`;
    await waitUntil(async () => (await httpGet(url, 500).catch(() => ({ status: 0 }))).status === 200, { what: `front ${v}`, stop: () => (p.child.exitCode !== null ? p.tail() : undefined) });
    fronts.set(v, { pid: p.pid, url });
  }
  const connections = Number(o.connections);
  const ms = Number(o.seconds) * 1000;
  const load = async (url: string, dur: number) =>
    o.rate !== undefined
      ? await runOpenLoop({ url, rate: Number(o.rate), connections: 8, durationMs: dur, expectBytes: 1024 }).then((r) => ({ requests: r.ok, errors: r.errors }))
      : await runMax({ url, connections, threads: 1, durationMs: dur, loadgen: 'wrk' }, procs);
  for (const [, f] of fronts) await load(f.url, 2000); // warm-up: JIT, pools
  const samples = new Map<string, number[]>(variants.map((v) => [v, []]));
  for (let r = 0; r < Number(o.rounds); r++) {
    for (const v of variants) {
      const f = fronts.get(v)!;
      const c0 = cpuSeconds(f.pid);
      const res = await load(f.url, ms);
      const us = ((cpuSeconds(f.pid) - c0) / res.requests) * 1e6;
      samples.get(v)!.push(us);
      process.stderr.write(`round ${r + 1} ${v.padEnd(8)} ${us.toFixed(1)} µs/request (${res.requests} requests, ${res.errors} errors)\n`);
    }
  }
  await procs.stopSince(0);
  rmSync(tmp, { recursive: true, force: true });
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const base = samples.has('direct') ? median(samples.get('direct')!) : undefined;
  const load_ = o.rate !== undefined ? `open loop ${o.rate} req/s` : `wrk -c${connections}`;
  console.log(`\nCPU µs per request of the front process, median of ${o.rounds} rounds, ${load_}, ${o.seconds} s each, upstream ${o.upstream} 1 KB`);
  console.log('| variant | µs/request | rounds | client part (minus direct) |');
  console.log('| --- | ---: | --- | ---: |');
  for (const v of variants) {
    const s = samples.get(v)!;
    const m = median(s);
    console.log(`| ${v} | ${m.toFixed(1)} | ${s.map((x) => x.toFixed(1)).join(' / ')} | ${base !== undefined && v !== 'direct' ? (m - base).toFixed(1) : '-'} |`);
  }
}

if (process.argv[2] === '--serve') serve(process.argv[3]!, Number(process.argv[4]), process.argv[5]!, Number(process.argv[6]));
else await main();
