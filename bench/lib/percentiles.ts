// Percentiles from a sorted copy of the samples (a few thousand per run, so no histogram needed).

export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export function summarize(samples: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(samples).filter((v) => Number.isFinite(v)).sort();
  const n = sorted.length;
  // Nearest-rank percentile: the smallest sample with at least q of the samples at or below it.
  const at = (q: number) => (n ? sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]! : NaN);
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: n, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: n ? sorted[n - 1]! : NaN, mean: n ? sum / n : NaN };
}
