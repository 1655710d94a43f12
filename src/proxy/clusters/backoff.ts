// Exponential backoff with full jitter (AWS architecture blog, Envoy): a
// uniform delay in [0, min(max, base × 2^(retry-1))], so retries spread out.
export function backoffMs(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * cap);
}
