// Draws one view's table: a header with the sort arrow, one line per row with
// cells coloured by their health tone, the highlighted row marked, and the
// least important columns dropped when the terminal is narrow.
import React from 'react';
import { Box, Text } from 'ink';
import type { Palette } from './palette.ts';
import { columnWidths, fitColumns, layoutLine, type Row, type SortState, type TableModel } from './table-model.ts';

export type DataTableProps = {
  model: TableModel;
  rows: Row[];
  sort: SortState;
  /** Index into rows of the highlighted row, or -1. */
  selected: number;
  width: number;
  /** Most row lines to draw (the rest are counted, not drawn). */
  maxLines?: number;
  palette: Palette;
};

const MARK = 2; // "› " before the highlighted row

export function DataTable(props: DataTableProps): React.ReactElement {
  const { model, rows, sort, palette } = props;
  const h = React.createElement;
  const widths = columnWidths(model, rows);
  const cols = fitColumns(model.columns, widths, props.width - MARK);
  const header = layoutLine(
    cols,
    widths,
    (c) => (c.key === sort.column ? `${c.title} ${sort.descending ? '▼' : '▲'}` : c.title),
    (_c, s) => palette.bold(s),
  );
  const lines: React.ReactElement[] = [h(Text, { key: 'header' }, `  ${header}`)];
  const flat = rows.flatMap((r, i) => [{ row: r, index: i }, ...(r.children ?? []).map((c) => ({ row: c, index: -1 }))]);
  const room = props.maxLines === undefined ? flat.length : Math.max(1, props.maxLines);
  const shown = flat.length > room ? flat.slice(0, room - 1) : flat;
  for (const { row, index } of shown) {
    const isSelected = index >= 0 && index === props.selected;
    const line = layoutLine(cols, widths, (c) => row.cells[c.key]?.text ?? '', (c, s) => (row.cells[c.key]?.text ? palette.tone(row.cells[c.key]?.tone ?? 'plain', s) : s));
    lines.push(h(Text, { key: `r:${row.id}` }, isSelected ? `${palette.tone('accent', '›')} ${line}` : `  ${line}`));
  }
  if (shown.length < flat.length) lines.push(h(Text, { key: 'more' }, palette.tone('dim', `  … ${flat.length - shown.length} more (filter with /)`)));
  if (rows.length === 0) lines.push(h(Text, { key: 'empty' }, palette.tone('dim', `  ${model.empty}`)));
  return h(Box, { flexDirection: 'column' }, ...lines);
}
