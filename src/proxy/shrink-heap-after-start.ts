// One memory-reducing GC once a sidecar serves its first snapshot. Loading the
// proxy (zod and its schemas above all) allocates enough that V8 grows its
// young generation from 1 to 8 MB, and an idle process never gives it back:
// ~8 MB of a plaintext sidecar's ~32 MB anonymous RSS (src/proxy/README.md).
// V8 shrinks it only in a "last resort" GC, which Node offers through the gc()
// of --expose-gc alone: the flag is set for one new context, whose gc() is
// kept here and nowhere else (global code still sees no gc).
// Costs one 30-70 ms pause, a second after ready. Best effort: a Node whose
// gc() refuses the options changes nothing.
import v8 from 'node:v8';
import vm from 'node:vm';

const DELAY_MS = 1_000;

type Gc = (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

function memoryReducingGc(): void {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as Gc;
    v8.setFlagsFromString('--no-expose-gc');
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  } catch {
    // Not worth a message: the sidecar works the same, with a larger idle heap.
  }
}

/** Once `ready()` is true (checked every second), collect once. Never holds the process open. */
export function shrinkHeapAfterStart(ready: () => boolean): void {
  const timer = setInterval(() => {
    if (!ready()) return;
    clearInterval(timer);
    memoryReducingGc();
  }, DELAY_MS);
  timer.unref();
}
