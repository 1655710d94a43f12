// The Grafana dashboard's PromQL, read from observability/grafana/, for the
// tests that check it against real /metrics and a real Prometheus.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DASHBOARD_FILE = join(import.meta.dirname, '../../observability/grafana/mesh-dashboard.json');

export type DashboardQuery = { panel: string; expr: string };

type Panel = { title: string; type: string; targets?: { expr: string }[]; panels?: Panel[] };

export function dashboardQueries(file = DASHBOARD_FILE): DashboardQuery[] {
  const dash = JSON.parse(readFileSync(file, 'utf8')) as { panels: Panel[]; templating: { list: { name: string; definition?: string }[] } };
  const out: DashboardQuery[] = [];
  const walk = (ps: Panel[]) => {
    for (const p of ps) {
      for (const t of p.targets ?? []) out.push({ panel: p.title, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dash.panels);
  return out;
}

/** The expression as Prometheus gets it from Grafana: variables replaced. */
export function expandVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$service', '.*');
}

/** Selectors in an expression: metric name and the label names its matchers use. */
export function selectorsOf(expr: string): { metric: string; labels: string[] }[] {
  const out: { metric: string; labels: string[] }[] = [];
  // Label values are strings: blank them so nothing inside them reads as a name.
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const grouping = /\b(?:by|without)\s*\([^)]*\)/g;
  const noGroups = bare.replace(grouping, '');
  for (const m of noGroups.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\})?/g)) {
    const name = m[1]!;
    const after = noGroups.slice(m.index! + m[0].length).trimStart();
    // Functions and aggregations are followed by "("; keywords and numbers are not metric names.
    if (after.startsWith('(') || /^(by|without|on|ignoring|group_left|group_right|bool|and|or|unless|offset)$/.test(name)) continue;
    if (!name.startsWith('mesh_') && m[2] === undefined) continue;
    const labels = [...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((l) => l[1]!);
    out.push({ metric: name, labels });
  }
  return out;
}
