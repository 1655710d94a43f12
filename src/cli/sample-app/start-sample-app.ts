// A tiny HTTP app for examples and tests, shipped in the mesh image so no
// other image has to be pulled. It answers with who it is, and has switches
// to fail or be slow: /fail?rate=0.3, /slow?ms=200 (or --fail-rate/--slow-ms
// for every request), and /call?url=... to make an outbound request.
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SampleAppOptions {
  port: number;
  host?: string;
  name?: string;
  version?: string;
  /** Share of requests (0..1) answered with 500, on every path. */
  failRate?: number;
  /** Delay added to every request. */
  slowMs?: number;
}

export interface SampleApp {
  server: Server;
  port: number;
  close(): Promise<void>;
}

function num(v: string | null, fallback: number): number {
  const n = v === null ? NaN : Number(v);
  return Number.isFinite(n) ? n : fallback;
}

export async function startSampleApp(opts: SampleAppOptions): Promise<SampleApp> {
  const service = opts.name ?? process.env.MESH_SERVICE ?? process.env.SERVICE_NAME ?? hostname();
  const version = opts.version ?? process.env.SERVICE_VERSION ?? 'v1';
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://sample');
    const who = { service, version, hostname: hostname(), method: req.method, path: url.pathname };
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-served-by': `${service}/${version}/${hostname()}` });
      res.end(JSON.stringify(body) + '\n');
    };
    try {
      for await (const _ of req); // drain the body; the app echoes nothing from it
      if (url.pathname === '/ready' || url.pathname === '/healthz') return reply(200, { ...who, ready: true });
      const slow = url.pathname === '/slow' ? num(url.searchParams.get('ms'), 100) : (opts.slowMs ?? 0);
      if (slow > 0) await sleep(slow);
      const rate = url.pathname === '/fail' ? num(url.searchParams.get('rate'), 1) : (opts.failRate ?? 0);
      if (rate > 0 && Math.random() < rate) return reply(500, { ...who, error: 'injected failure', rate });
      if (url.pathname === '/call') {
        const target = url.searchParams.get('url');
        if (!target) return reply(400, { ...who, error: 'missing ?url=' });
        try {
          const r = await fetch(target, { signal: AbortSignal.timeout(num(url.searchParams.get('timeout'), 5000)) });
          return reply(r.ok ? 200 : 502, { ...who, upstream: { status: r.status, body: await r.text() } });
        } catch (err) {
          return reply(502, { ...who, error: `call to ${target} failed: ${(err as Error).cause ?? (err as Error).message}` });
        }
      }
      return reply(200, { ...who, delayedMs: slow || undefined });
    } catch (err) {
      if (!res.headersSent) reply(500, { ...who, error: String(err) });
    }
  });
  server.listen(opts.port, opts.host ?? '0.0.0.0');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
