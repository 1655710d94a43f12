// The whole dashboard frame, pure: title and tabs, the status banner, the
// filter line, the current view's table and the help line. Fed by TopApp
// (live) or by `top --once` (one frame), and rendered to a string in tests.
import React from 'react';
import { Box, Text } from 'ink';
import { DataTable } from './data-table.ts';
import { HelpLine } from './help-line.ts';
import type { Palette } from './palette.ts';
import { StatusBanner } from './status-banner.ts';
import type { UiState } from './ui-state.ts';
import type { MeshDataState } from './use-mesh-data.ts';
import { DEFAULT_THRESHOLDS, type Thresholds } from './view-tables.ts';
import { ViewTabs } from './view-tabs.ts';
import { visibleTable } from './visible-table.ts';

export type DashboardProps = {
  state: MeshDataState;
  ui: UiState;
  url: string;
  intervalMs: number;
  width: number;
  /** Terminal rows; when set the frame fills them and long tables are cut. */
  height?: number;
  palette: Palette;
  thresholds?: Thresholds;
  /** Whether keys work (the help line is left out of one-shot frames). */
  interactive?: boolean;
};

export function Dashboard(props: DashboardProps): React.ReactElement {
  const { state, ui, palette } = props;
  const h = React.createElement;
  const now = state.checkedAt ?? state.lastOkAt ?? 0;
  const parts: React.ReactElement[] = [
    h(ViewTabs, { key: 'tabs', ui, project: state.data?.health.project, url: props.url, intervalMs: props.intervalMs, at: state.lastOkAt, palette }),
  ];
  const banner = h(StatusBanner, { key: 'banner', state, url: props.url, intervalMs: props.intervalMs, now, width: props.width, palette });
  parts.push(banner);
  if (ui.filtering || ui.filter) {
    parts.push(h(Text, { key: 'filter' }, `filter: /${ui.filter}${ui.filtering ? '█' : ''}  ${palette.tone('dim', ui.filtering ? '(Enter keep, Esc clear)' : '(Esc clears)')}`));
  }
  if (state.data) {
    const { model, rows } = visibleTable(state.data, ui, props.thresholds ?? DEFAULT_THRESHOLDS);
    // Title, tabs, header, help, and up to three banner lines and the filter line.
    const chrome = 4 + (props.interactive ? 1 : 0) + (state.error ? 2 : 0) + (state.data.health.discovery.stale ? 1 : 0) + (state.data.metrics.scrapeErrors.length ? 1 : 0) + (ui.filtering || ui.filter ? 1 : 0);
    parts.push(
      h(DataTable, {
        key: 'table',
        model,
        rows,
        sort: ui.sort[ui.view],
        selected: props.interactive && ui.view === 'services' ? ui.selected : -1,
        width: props.width,
        maxLines: props.height === undefined ? undefined : props.height - chrome,
        palette,
      }),
    );
  } else if (!state.error) {
    parts.push(h(Text, { key: 'wait' }, palette.tone('dim', `waiting for the controller at ${props.url}…`)));
  }
  if (props.interactive) {
    parts.push(h(Box, { key: 'spacer', flexGrow: 1 }));
    parts.push(h(HelpLine, { key: 'help', width: props.width, palette }));
  }
  return h(Box, { flexDirection: 'column', width: props.width, ...(props.height !== undefined ? { height: props.height } : {}) }, ...parts);
}
