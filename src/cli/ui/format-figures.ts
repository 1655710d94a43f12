// How figures read on screen: fixed precision so columns do not jitter between
// refreshes, and "-" where there is no traffic to measure.

export const NONE = '-';

export function formatRate(n: number | null | undefined): string {
  if (n === null || n === undefined) return NONE;
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

export function formatPercent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return NONE;
  return `${(ratio * 100).toFixed(2)}%`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return NONE;
  if (ms >= 10_000) return `${(ms / 1000).toFixed(0)}s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms >= 10) return `${ms.toFixed(0)}ms`;
  return `${ms.toFixed(1)}ms`;
}

/** An age as a person says it: 850ms, 12s, 3m10s, 2h05m. */
export function formatAge(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return NONE;
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
