// A precise ticker: a worker thread sleeps with Atomics.wait (which takes
// fractional milliseconds) and posts each tick index when it is due.
// setTimeout wakes at 1 ms granularity, which alone would add ~0.5 ms to a
// median measured from the scheduled time, more than the latency we look for.
import { Worker } from 'node:worker_threads';

const code = `
const { workerData, parentPort } = require('node:worker_threads');
const { start, interval, total } = workerData;
const cell = new Int32Array(new SharedArrayBuffer(4));
const now = () => performance.timeOrigin + performance.now();
for (let i = 0; i < total; ) {
  const wait = start + i * interval - now();
  if (wait > 0) { Atomics.wait(cell, 0, 0, wait); continue; }
  // Post every tick that is due; a late wake-up posts a burst, never skips.
  parentPort.postMessage(i++);
}
`;

/** Calls onTick(i, dueEpochMs) for i = 0..total-1 at start + i*interval (epoch ms); resolves after the last one. */
export function runTicker(startEpochMs: number, interval: number, total: number, onTick: (i: number, due: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { start: startEpochMs, interval, total } });
    worker.on('message', (i: number) => {
      onTick(i, startEpochMs + i * interval);
      if (i === total - 1) void worker.terminate().then(() => resolve());
    });
    worker.on('error', reject);
  });
}
