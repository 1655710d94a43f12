// Plain-text view of rollouts for `canary status` and the --wait progress lines. Pure.
import type { CanaryStatus } from '../../shared/canary.ts';
import type { MetricsResponse } from '../../shared/api.ts';

const pct = (n: number | null) => (n === null ? 'n/a' : `${(n * 100).toFixed(1)}%`);
const ms = (n: number | null) => (n === null ? 'n/a' : `${Math.round(n * 10) / 10} ms`);

export function formatRollout(s: CanaryStatus, now = Date.now()): string {
  const step = s.step >= 0 ? `step ${s.step + 1}/${s.steps.length}` : s.mirrorPercent && s.state !== 'pending' ? `mirroring ${s.mirrorPercent}%` : 'not started';
  const head = `${s.service}  ${s.stable} → ${s.canary}  ${s.state}${s.manual ? ' (manual)' : ''}  ${step}  weight ${s.weight}%`;
  const lines = [head];
  if (s.nextCheckAt !== undefined) lines.push(`  next check in ${Math.max(0, Math.round((s.nextCheckAt - now) / 1000))}s (every ${s.intervalMs / 1000}s)`);
  const g = s.gates;
  const p99 = g.maxP99 ? ('ms' in g.maxP99 ? `, p99 <= ${g.maxP99.ms} ms` : `, p99 <= ${g.maxP99.relative}x stable`) : '';
  lines.push(`  gates: >= ${g.minRequests} requests, errors <= ${pct(g.maxErrorRate)}${p99}; steps ${s.steps.join(',')}`);
  if (s.header) lines.push(`  header ${s.header.name}: ${s.header.value} → ${s.canary}`);
  if (s.lastCheck) {
    const c = s.lastCheck;
    lines.push(`  last check: ${c.verdict} · ${c.requests} requests · errors ${pct(c.errorRate)} · p99 ${ms(c.p99Ms)} (stable ${ms(c.stableP99Ms)})`);
    for (const r of c.reasons) lines.push(`    ${r}`);
  }
  if (s.checkTraffic) lines.push(`  check traffic: ${s.checkTraffic.sent} sent, ${s.checkTraffic.failed} failed`);
  if (s.reason) lines.push(`  reason: ${s.reason}`);
  if (s.retirement) {
    const r = s.retirement;
    lines.push(`  retire ${s.stable}: ${r.state}${r.containers !== undefined ? ` (${r.containers} container${r.containers === 1 ? '' : 's'} stopped and removed)` : ''}${r.detail ? `: ${r.detail}` : ''}`);
  }
  for (const n of s.nextSteps) lines.push(`  next: ${n}`);
  return lines.join('\n') + '\n';
}

/** One line per history event, for --wait. */
export function formatEvent(e: CanaryStatus['history'][number], start: number): string {
  return `[+${((e.at - start) / 1000).toFixed(1)}s] ${e.event}${e.detail ? `: ${e.detail}` : ''}\n`;
}

/** Live figures per version, from /v1/metrics. */
export function formatLive(versions: NonNullable<MetricsResponse['versions']>): string {
  if (!versions.length) return '';
  return `  live: ${versions.map((v) => `${v.version} ${v.rps} rps, success ${pct(v.successRate)}, p99 ${ms(v.p99Ms)}`).join(' · ')}\n`;
}
