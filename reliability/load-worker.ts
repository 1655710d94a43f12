// The load loop itself, in a worker thread: the scenario's own work (docker
// commands, some of them synchronous) can then never stall the load or make
// its timers fire late and count requests as failed that were not.
import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';
import type { LoadOptions, Sample } from './load.ts';

const opts = workerData as LoadOptions;
const agent = new Agent({ connections: opts.connections ?? 64, keepAliveTimeout: 10_000 });
const timeoutMs = opts.timeoutMs ?? 10_000;
let fresh: Sample[] = [];
const pending = new Set<Promise<void>>();

const dig = (body: string, path: string[]): string | undefined => {
  try {
    let v: any = JSON.parse(body);
    for (const k of path) v = v?.[k];
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
};

async function one(path: string): Promise<void> {
  const start = Date.now();
  try {
    const res = await request(`${opts.base}${path}`, { dispatcher: agent, headers: opts.headers, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
    const body = await res.body.text();
    const meshError = res.headers['x-mesh-error'] as string | undefined;
    const ok = opts.expect
      ? res.statusCode === opts.expect.status && (opts.expect.meshErrorPrefix === undefined || (meshError ?? '').startsWith(opts.expect.meshErrorPrefix))
      : res.statusCode >= 200 && res.statusCode < 300;
    const tag = ok && opts.pick && path.startsWith(opts.pick.pathPrefix) ? dig(body, opts.pick.json) : undefined;
    fresh.push({ path, start, end: Date.now(), ok, status: res.statusCode, error: ok ? undefined : String(meshError ?? body.slice(0, 200)), tag });
  } catch (err) {
    const e = err as Error & { code?: string; cause?: { code?: string } };
    fresh.push({ path, start, end: Date.now(), ok: false, status: 0, error: `${e.code ?? e.cause?.code ?? e.name}: ${e.message}` });
  }
}

const t0 = Date.now();
let n = 0;
let stopped = false;
// Scheduled against the start time, so a slow turn catches up instead of drifting.
const tick = (): void => {
  if (stopped) return;
  const due = Math.floor(((Date.now() - t0) * opts.rate) / 1000) + 1;
  while (n < due) {
    const p = one(opts.paths[n % opts.paths.length]!);
    n++;
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }
  setTimeout(tick, Math.max(1, Math.floor(1000 / opts.rate / 2)));
};
tick();
const flush = setInterval(() => {
  if (fresh.length) parentPort!.postMessage({ samples: fresh });
  fresh = [];
}, 100);

parentPort!.on('message', async (m: { stop?: boolean }) => {
  if (!m.stop) return;
  stopped = true;
  await Promise.all([...pending]);
  clearInterval(flush);
  parentPort!.postMessage({ samples: fresh, done: true });
  await agent.close();
});
