// Loaded into a meshctl hop by bench/memory-curve.ts (`node --import <this file>`):
// prints the process's own view of its memory as one line on stdout every
// MEMORY_PROBE_MS ms, and on SIGUSR2 runs a full GC first (needs --expose-gc),
// so the curve can tell garbage V8 has not collected yet from live data.
// Plain JS, not TypeScript: loading Node's type stripper would itself cost the
// process ~20 MB and skew what it measures.
import { getHeapSpaceStatistics } from 'node:v8';

const every = Number(process.env.MEMORY_PROBE_MS) || 5000;

function print(kind) {
  const m = process.memoryUsage();
  // Committed size of each V8 space (new_space, old_space, code_space, large_object_space, ...).
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
  process.stdout.write(`memprobe ${JSON.stringify({ kind, t: Date.now(), ...m, spaces })}\n`);
}

setInterval(() => print('tick'), every).unref();
process.on('SIGUSR2', () => {
  if (typeof globalThis.gc === 'function') globalThis.gc();
  print('after-gc');
});
