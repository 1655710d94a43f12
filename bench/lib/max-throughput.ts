// Closed-loop maximum throughput: wrk from Debian when present (C, so the
// generator is not the bottleneck), else an undici loop in this process.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Pool } from 'undici';
import { performance } from 'node:perf_hooks';
import type { ProcessGroup } from './process-group.ts';

export const WRK = '/usr/bin/wrk';

export interface MaxOptions {
  url: string;
  connections: number;
  threads: number;
  durationMs: number;
  loadgen: 'wrk' | 'undici';
}

export interface MaxResult {
  loadgen: 'wrk' | 'undici';
  requests: number;
  seconds: number;
  rps: number;
  /** Non-2xx answers plus socket errors. */
  errors: number;
  errorDetail?: string;
}

export function wrkAvailable(): boolean {
  return existsSync(WRK);
}

export async function runMax(o: MaxOptions, procs: ProcessGroup): Promise<MaxResult> {
  return o.loadgen === 'wrk' ? runWrk(o, procs) : runUndiciLoop(o);
}

async function runWrk(o: MaxOptions, procs: ProcessGroup): Promise<MaxResult> {
  const secs = Math.max(1, Math.round(o.durationMs / 1000));
  const p = procs.start('wrk', WRK, ['-t', String(o.threads), '-c', String(o.connections), '-d', `${secs}s`, o.url], { captureStdout: true });
  const { code } = await p.exited;
  const out = p.tail();
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${out.slice(-300)}`);
  return parseWrk(out);
}

export function parseWrk(out: string): MaxResult {
  const reqs = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!reqs || !rps) throw new Error(`cannot read wrk output: ${out.slice(-300)}`);
  const unit = reqs[3] === 'ms' ? 0.001 : reqs[3] === 'm' ? 60 : 1;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const sockErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const errors = non2xx + sockErrors;
  return {
    loadgen: 'wrk',
    requests: Number(reqs[1]),
    seconds: Number(reqs[2]) * unit,
    rps: Number(rps[1]),
    errors,
    errorDetail: errors ? [non2xx ? `${non2xx} non-2xx` : '', sock?.[0] ?? ''].filter(Boolean).join('; ') : undefined,
  };
}

async function runUndiciLoop(o: MaxOptions): Promise<MaxResult> {
  const u = new URL(o.url);
  const pool = new Pool(u.origin, { connections: o.connections, pipelining: 1 });
  const path = u.pathname + u.search;
  const start = performance.now();
  const end = start + o.durationMs;
  let requests = 0;
  let errors = 0;
  let errorDetail: string | undefined;
  const worker = async () => {
    while (performance.now() < end) {
      try {
        const { statusCode, body } = await pool.request({ path, method: 'GET' });
        await body.dump();
        if (statusCode === 200) requests++;
        else {
          errors++;
          errorDetail ??= `status ${statusCode}`;
        }
      } catch (err) {
        errors++;
        errorDetail ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: o.connections }, worker));
  const seconds = (performance.now() - start) / 1000;
  await pool.destroy();
  return { loadgen: 'undici', requests, seconds, rps: requests / seconds, errors, errorDetail };
}
