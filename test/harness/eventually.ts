// Poll until an assertion passes, instead of sleeping for a guessed time.
import { setTimeout as sleep } from 'node:timers/promises';

export async function eventually<T>(fn: () => T | Promise<T>, { timeoutMs = 10_000, intervalMs = 20 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw lastError;
    await sleep(intervalMs);
  }
}
