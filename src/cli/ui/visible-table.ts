// The table the current view shows after the filter and the sort: shared by
// the dashboard (to draw it) and the key handler (to know which row is which).
import type { MeshData } from './fetch-mesh-data.ts';
import { filterRows, sortRows, type Row, type TableModel } from './table-model.ts';
import type { UiState } from './ui-state.ts';
import { DEFAULT_THRESHOLDS, tableFor, type Thresholds } from './view-tables.ts';

export function visibleTable(data: MeshData, ui: UiState, t: Thresholds = DEFAULT_THRESHOLDS): { model: TableModel; rows: Row[] } {
  const model = tableFor(ui.view, data, ui.service, t);
  return { model, rows: sortRows(filterRows(model.rows, ui.filter), ui.sort[ui.view]) };
}
