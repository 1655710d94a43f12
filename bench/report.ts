// The report: one table with every scenario side by side, the comparisons
// with the issue's targets, the disconnect check, and the same tables as
// markdown for the README. Figures only; nothing here passes or fails.
import type { ScenarioResult } from './run-scenario.ts';
import type { DisconnectResult } from './disconnect-check.ts';
import type { Comparison } from './scenarios.ts';

type Row = string[];

const f = (v: number | undefined, digits: number) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));
/** Per-process figures, client-side hop first. */
const perProc = (r: ScenarioResult, pick: (p: ScenarioResult['procs'][number]) => number | undefined, digits: number) =>
  r.procs.length ? r.procs.map((p) => f(pick(p), digits)).join(' / ') : '-';

/** Per-process RSS split, "anon + file" (MB, no decimals), client-side hop first. */
const split = (r: ScenarioResult, pick: (p: ScenarioResult['procs'][number]) => [number | undefined, number | undefined]) =>
  r.procs.length ? r.procs.map((p) => pick(p).map((v) => f(v, 0)).join(' + ')).join(' / ') : '-';

export const scenarioHeader = [
  'id',
  'scenario',
  'max req/s',
  'req/s per core',
  'p50 ms',
  'p99 ms',
  'CPU s/1k req @1k/s',
  'CPU s/1k req @max',
  'RSS idle MB',
  'RSS @1k/s MB',
  'anon + file MB idle',
  'anon + file MB @1k/s',
  'CPU busy @max',
  'upstream busy @max',
  'errors',
];
const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : `${Math.round(v * 100)}%`);

export function scenarioRows(results: ScenarioResult[]): Row[] {
  return results.map((r) => {
    if (r.status !== 'ok') {
      const why = r.status === 'unavailable' ? `proxy not available: ${r.reason}` : `failed: ${r.reason}`;
      return [r.id, r.label, why];
    }
    const errors = (r.fixed?.errors ?? 0) + (r.max?.errors ?? 0);
    return [
      r.id,
      r.label,
      f(r.max?.rps, 0),
      f(r.perCoreRps, 0),
      f(r.fixed?.latency.p50, 3),
      f(r.fixed?.latency.p99, 3),
      perProc(r, (p) => p.cpuPer1kFixed, 3),
      perProc(r, (p) => p.cpuPer1kMax, 3),
      perProc(r, (p) => p.rssIdleMB, 1),
      perProc(r, (p) => p.rssFixedPeakMB, 1),
      split(r, (p) => [p.rssIdleAnonMB, p.rssIdleFileMB]),
      split(r, (p) => [p.rssFixedPeakAnonMB, p.rssFixedPeakFileMB]),
      r.procs.length ? r.procs.map((p) => pct(p.cpuBusyMax)).join(' / ') : '-',
      pct(r.upstream?.cpuBusyMax),
      errors ? `${errors}${r.fixed?.firstError ? ` (${r.fixed.firstError})` : r.max?.errorDetail ? ` (${r.max.errorDetail})` : ''}` : '0',
    ];
  });
}

export const comparisonHeader = ['comparison', 'value', 'target', 'reached'];

export interface ComparisonFigure {
  label: string;
  value?: number;
  unit: string;
  target: string;
  reached?: boolean;
}

export function evaluate(comparisons: Comparison[], byId: ReadonlyMap<string, ScenarioResult>): ComparisonFigure[] {
  return comparisons.map((c) => {
    const value = c.value(byId);
    const reached = value === undefined ? undefined : c.target.op === '>=' ? value >= c.target.value : value <= c.target.value;
    return { label: c.label, value, unit: c.unit, target: `${c.target.op} ${c.target.value} ${c.unit}`, reached };
  });
}

export function comparisonRows(figures: ComparisonFigure[]): Row[] {
  const digits: Record<string, number> = { x: 2, ms: 3, s: 3, MB: 1 };
  return figures.map((c) => [c.label, c.value === undefined ? 'n/a' : `${f(c.value, digits[c.unit] ?? 2)} ${c.unit}`, c.target, c.reached === undefined ? '-' : c.reached ? 'yes' : 'no']);
}

export const disconnectHeader = ['id', 'chain', 'clients aborted', 'reached upstream', 'upstream conns stuck', 'settled in ms'];

export function disconnectRows(results: DisconnectResult[]): Row[] {
  return results.map((d) =>
    d.status !== 'ok'
      ? [d.id, d.label, d.status === 'unavailable' ? `proxy not available: ${d.reason}` : `failed: ${d.reason}`]
      : [d.id, d.label, String(d.aborted), String(d.reachedUpstream), String(d.stuck), String(d.settledMs)],
  );
}

/** Aligned plain-text table; a short row (a reason) spans the rest of the line. */
export function textTable(header: Row, rows: Row[]): string {
  const full = rows.filter((r) => r.length === header.length);
  const widths = header.map((h, i) => Math.max(h.length, ...full.map((r) => r[i]!.length)));
  const line = (r: Row) =>
    r.length === header.length ? r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ') : r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]!) : c)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(header: Row, rows: Row[]): string {
  const esc = (c: string) => c.replaceAll('|', '\\|');
  const pad = (r: Row) => [...r, ...Array(Math.max(0, header.length - r.length)).fill('')];
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map((r) => `| ${pad(r).map(esc).join(' | ')} |`),
  ].join('\n');
}
