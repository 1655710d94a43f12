// The shape every view's table takes before it is drawn: columns with a
// priority (what to drop first on a narrow terminal), rows of cells that carry
// both the text shown and the value to sort on. Sorting, filtering and fitting
// to a width are pure functions over it.
import type { Tone } from './palette.ts';

export type Column = {
  key: string;
  title: string;
  align: 'left' | 'right';
  /** 0 = always shown; higher numbers are dropped first when the terminal is narrow. */
  priority: number;
};

export type Cell = { text: string; sort: number | string | null; tone?: Tone };

export type Row = {
  /** Stable id: the service name for the services view (Enter drills into it). */
  id: string;
  /** What `/` filters on. */
  name: string;
  cells: Record<string, Cell>;
  /** Rows drawn under this one and kept with it when sorting (versions of a service). */
  children?: Row[];
};

export type TableModel = { columns: Column[]; rows: Row[]; empty: string };

export type SortState = { column: string; descending: boolean };

const GAP = 2;

export function sortRows(rows: Row[], sort: SortState): Row[] {
  const dir = sort.descending ? -1 : 1;
  return [...rows].sort((a, b) => {
    const x = a.cells[sort.column]?.sort ?? null;
    const y = b.cells[sort.column]?.sort ?? null;
    // Rows without a value (no traffic) go last in either direction.
    if (x === null || y === null) return x === y ? a.name.localeCompare(b.name) : x === null ? 1 : -1;
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return c !== 0 ? c * dir : a.name.localeCompare(b.name);
  });
}

export function filterRows(rows: Row[], filter: string): Row[] {
  const f = filter.trim().toLowerCase();
  if (!f) return rows;
  return rows.filter((r) => r.name.toLowerCase().includes(f));
}

/** Width each column needs for its title and every cell. */
export function columnWidths(model: TableModel, rows: Row[] = model.rows): Record<string, number> {
  const all = rows.flatMap((r) => [r, ...(r.children ?? [])]);
  const w: Record<string, number> = {};
  for (const c of model.columns) w[c.key] = Math.max(c.title.length + 2, ...all.map((r) => r.cells[c.key]?.text.length ?? 0));
  return w;
}

/** Drops the least important columns until the table fits in `width` characters. */
export function fitColumns(columns: Column[], widths: Record<string, number>, width: number): Column[] {
  let shown = [...columns];
  const total = () => shown.reduce((n, c) => n + widths[c.key]!, 0) + GAP * (shown.length - 1);
  while (total() > width) {
    const worst = shown.reduce((a, c) => (c.priority > a.priority ? c : a), shown[0]!);
    if (worst.priority === 0) break;
    shown = shown.filter((c) => c !== worst);
  }
  return shown;
}

/** One line of the table, cells padded to their column; `paint` colours a cell after padding. */
export function layoutLine(
  columns: Column[],
  widths: Record<string, number>,
  text: (c: Column) => string,
  paint: (c: Column, padded: string) => string = (_c, s) => s,
): string {
  return columns
    .map((c) => {
      const w = widths[c.key]!;
      const t = text(c);
      const cut = t.length > w ? `${t.slice(0, Math.max(0, w - 1))}…` : t;
      return paint(c, c.align === 'right' ? cut.padStart(w) : cut.padEnd(w));
    })
    .join(' '.repeat(GAP))
    .trimEnd();
}

/** The model as plain text (for `meshctl stat` and `top --once` without a terminal). */
export function formatPlainTable(model: TableModel, width = Infinity): string {
  const widths = columnWidths(model);
  const cols = fitColumns(model.columns, widths, width);
  const lines = [layoutLine(cols, widths, (c) => c.title.toUpperCase())];
  for (const r of model.rows) for (const row of [r, ...(r.children ?? [])]) lines.push(layoutLine(cols, widths, (c) => row.cells[c.key]?.text ?? ''));
  if (model.rows.length === 0) lines.push(model.empty);
  return lines.join('\n') + '\n';
}
