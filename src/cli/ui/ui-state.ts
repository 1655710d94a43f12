// What the person at the dashboard has chosen (view, sort, filter, selection,
// drilled-in service, pause) and how each key changes it. A pure reducer, so
// the key map is tested without a terminal.
import type { Key } from 'ink';
import type { SortState } from './table-model.ts';
import { VIEWS, type ViewName } from './view-tables.ts';

export type UiState = {
  view: ViewName;
  sort: Record<ViewName, SortState>;
  filter: string;
  /** Typing into the filter after `/`. */
  filtering: boolean;
  /** Index of the highlighted row in the services view. */
  selected: number;
  /** The service whose routes the routes view shows. */
  service?: string;
  paused: boolean;
};

export type KeyContext = {
  /** Column keys of the current view's table, in order (what `s` cycles through). */
  columns: string[];
  /** Ids of the rows shown in the current view, in order. */
  rowIds: string[];
};

export function initialUiState(view: ViewName = 'services', service?: string): UiState {
  const byName: SortState = { column: 'name', descending: false };
  return {
    view: service && view === 'services' ? 'routes' : view,
    sort: { services: byName, edges: byName, routes: byName, proxies: byName },
    filter: '',
    filtering: false,
    selected: 0,
    ...(service ? { service } : {}),
    paused: false,
  };
}

export type KeyResult = { state: UiState; quit?: boolean };

export function reduceKey(s: UiState, input: string, key: Partial<Key>, ctx: KeyContext): KeyResult {
  // Keys typed faster than a read arrive as one string ("1sS", "/web"): apply them one by one.
  if (input.length > 1 && !s.filtering && !key.ctrl && !key.meta && !/[\u0000-\u001f]/.test(input)) {
    let r: KeyResult = { state: s };
    for (const ch of input) {
      r = reduceKey(r.state, ch, {}, ctx);
      if (r.quit) return r;
    }
    return r;
  }
  if (s.filtering) {
    if (key.escape) return { state: { ...s, filtering: false, filter: '', selected: 0 } };
    if (key.return) return { state: { ...s, filtering: false } };
    if (key.backspace || key.delete) return { state: { ...s, filter: s.filter.slice(0, -1), selected: 0 } };
    if (input && !key.ctrl && !key.meta && !key.tab && !/[\u0000-\u001f]/.test(input)) return { state: { ...s, filter: s.filter + input, selected: 0 } };
    return { state: s };
  }
  if (input === 'q' || (key.ctrl && input === 'c')) return { state: s, quit: true };
  if (/^[1-4]$/.test(input)) return { state: { ...s, view: VIEWS[Number(input) - 1]!, selected: 0 } };
  if (key.tab) {
    const i = VIEWS.indexOf(s.view);
    const next = VIEWS[(i + (key.shift ? VIEWS.length - 1 : 1)) % VIEWS.length]!;
    return { state: { ...s, view: next, selected: 0 } };
  }
  if (input === 's' && ctx.columns.length > 0) {
    const cur = s.sort[s.view];
    const column = ctx.columns[(ctx.columns.indexOf(cur.column) + 1) % ctx.columns.length]!;
    return { state: { ...s, sort: { ...s.sort, [s.view]: { ...cur, column } } } };
  }
  if (input === 'S') {
    const cur = s.sort[s.view];
    return { state: { ...s, sort: { ...s.sort, [s.view]: { ...cur, descending: !cur.descending } } } };
  }
  if (input === '/') return { state: { ...s, filtering: true } };
  if (key.escape) return { state: { ...s, filter: '', selected: 0 } };
  if (input === 'p') return { state: { ...s, paused: !s.paused } };
  if (key.upArrow || input === 'k') return { state: { ...s, selected: Math.max(0, s.selected - 1) } };
  if (key.downArrow || input === 'j') return { state: { ...s, selected: Math.max(0, Math.min(ctx.rowIds.length - 1, s.selected + 1)) } };
  if (key.return && s.view === 'services') {
    const id = ctx.rowIds[s.selected];
    if (id) return { state: { ...s, view: 'routes', service: id, filter: '', selected: 0 } };
  }
  if ((key.backspace || key.delete) && s.view === 'routes') {
    return { state: { ...s, view: 'services', filter: '', selected: 0 } };
  }
  return { state: s };
}
