// Open-loop load at a fixed rate with undici: request i is due at start + i/rate,
// and its latency counts from that due time, not from when it was sent, so a
// stall in the path is charged to every request it delayed (no coordinated
// omission). A worker thread keeps the schedule (see ticker.ts); the send
// lag left (worker wake-up plus this event loop's delay) is reported apart.
import { Pool } from 'undici';
import { performance } from 'node:perf_hooks';
import { summarize, type Summary } from './percentiles.ts';
import { runTicker } from './ticker.ts';

export interface OpenLoopOptions {
  url: string;
  rate: number; // requests per second
  connections: number;
  durationMs: number;
  expectBytes?: number;
}

export interface OpenLoopResult {
  sent: number;
  ok: number;
  errors: number;
  firstError?: string;
  /** From the scheduled time to the last body byte, ms. */
  latency: Summary;
  /** From the actual send to the last body byte, ms. */
  service: Summary;
  /** Scheduled time to actual send (the generator's own jitter), ms. */
  sendLag: Summary;
  achievedRate: number;
}

export async function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const u = new URL(o.url);
  const pool = new Pool(u.origin, { connections: o.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const path = u.pathname + u.search;
  const interval = 1000 / o.rate;
  // Epoch milliseconds with sub-millisecond precision, comparable across threads.
  const epochNow = () => performance.timeOrigin + performance.now();
  const total = Math.max(1, Math.round((o.rate * o.durationMs) / 1000));
  const latency = new Float64Array(total);
  const service = new Float64Array(total);
  const lag = new Float64Array(total);
  // NaN marks a request that never completed; summarize() skips it.
  latency.fill(NaN);
  service.fill(NaN);
  let done = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  let finished!: () => void;
  const allDone = new Promise<void>((r) => (finished = r));

  const fire = (i: number, due: number) => {
    const sent = epochNow();
    lag[i] = sent - due;
    pool
      .request({ path, method: 'GET' })
      .then(async ({ statusCode, body }) => {
        const buf = await body.arrayBuffer();
        const end = epochNow();
        latency[i] = end - due;
        service[i] = end - sent;
        if (statusCode !== 200 || (o.expectBytes !== undefined && buf.byteLength !== o.expectBytes)) {
          errors++;
          firstError ??= `status ${statusCode}, ${buf.byteLength} bytes`;
        } else ok++;
      })
      .catch((err: Error) => {
        const end = epochNow();
        latency[i] = end - due;
        service[i] = end - sent;
        errors++;
        firstError ??= err.message;
      })
      .finally(() => {
        if (++done === total) finished();
      });
  };

  const start = epochNow() + 20;
  await runTicker(start, interval, total, (i, due) => fire(i, due));
  const elapsedSend = epochNow() - start;
  // Requests still in flight get up to 10 s; whatever is left counts as an error.
  const timedOut = await Promise.race([allDone.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 10_000).unref())]);
  if (timedOut) {
    errors += total - done;
    firstError ??= `${total - done} requests unanswered 10 s after the run`;
  }
  await pool.destroy();
  return {
    sent: total,
    ok,
    errors,
    firstError,
    latency: summarize(latency),
    service: summarize(service),
    sendLag: summarize(lag),
    achievedRate: (total * 1000) / (elapsedSend + interval),
  };
}
