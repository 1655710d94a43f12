// A precise ticker: a worker thread sleeps with Atomics.wait (which takes
// fractional milliseconds) and posts each tick index when it is due.
// setTimeout wakes at 1 ms granularity, which alone would add ~0.5 ms to a
// median measured from the scheduled time, more than the latency we look for.
import { Worker } from 'node:worker_threads';

// The schedule starts once the worker runs: a worker takes tens of milliseconds
// to boot, and a start time fixed before that would open with a burst of late ticks.
const code = `
const { workerData, parentPort } = require('node:worker_threads');
const { leadMs, interval, total } = workerData;
const cell = new Int32Array(new SharedArrayBuffer(4));
const now = () => performance.timeOrigin + performance.now();
const start = now() + leadMs;
parentPort.postMessage(-1 - start);
for (let i = 0; i < total; ) {
  const wait = start + i * interval - now();
  if (wait > 0) { Atomics.wait(cell, 0, 0, wait); continue; }
  // Post every tick that is due; a late wake-up posts a burst, never skips.
  parentPort.postMessage(i++);
}
`;

/**
 * Calls onTick(i, dueEpochMs) for i = 0..total-1 at start + i*interval (epoch ms), where start is leadMs
 * after the worker is up; resolves with start after the last tick.
 */
export function runTicker(leadMs: number, interval: number, total: number, onTick: (i: number, due: number) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { leadMs, interval, total } });
    let start = NaN;
    worker.on('message', (i: number) => {
      if (i < 0) return void (start = -1 - i);
      onTick(i, start + i * interval);
      if (i === total - 1) void worker.terminate().then(() => resolve(start));
    });
    worker.on('error', reject);
  });
}
