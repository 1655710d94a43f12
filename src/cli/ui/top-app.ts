// The live dashboard: polls the controller through useMeshData, turns keys
// into UI state with reduceKey, and draws the Dashboard at the terminal's size.
import React, { useState } from 'react';
import { useApp, useInput, useWindowSize } from 'ink';
import { Dashboard } from './dashboard.ts';
import type { MeshDataSource } from './fetch-mesh-data.ts';
import type { Palette } from './palette.ts';
import { initialUiState, reduceKey, type UiState } from './ui-state.ts';
import { useMeshData } from './use-mesh-data.ts';
import { DEFAULT_THRESHOLDS, type Thresholds } from './view-tables.ts';
import { visibleTable } from './visible-table.ts';

export type TopAppProps = {
  client: MeshDataSource;
  intervalMs: number;
  palette: Palette;
  thresholds?: Thresholds;
  initial?: UiState;
  /** Fixed size (tests); otherwise the terminal's, following resizes. */
  size?: { columns: number; rows: number };
};

export function TopApp(props: TopAppProps): React.ReactElement {
  const [ui, setUi] = useState<UiState>(props.initial ?? initialUiState());
  const state = useMeshData(props.client, props.intervalMs, { paused: ui.paused });
  const { exit } = useApp();
  const win = useWindowSize();
  const columns = props.size?.columns ?? win.columns ?? 80;
  const rows = props.size?.rows ?? win.rows ?? 24;
  const thresholds = props.thresholds ?? DEFAULT_THRESHOLDS;
  useInput((input, key) => {
    setUi((cur) => {
      const table = state.data ? visibleTable(state.data, cur, thresholds) : undefined;
      const r = reduceKey(cur, input, key, {
        columns: table?.model.columns.map((c) => c.key) ?? [],
        rowIds: table?.rows.map((row) => row.id) ?? [],
      });
      if (r.quit) queueMicrotask(() => exit());
      return r.state;
    });
  });
  return React.createElement(Dashboard, {
    state,
    ui,
    url: props.client.url,
    intervalMs: props.intervalMs,
    width: columns,
    // One row short of the screen so the frame never scrolls the terminal.
    height: Math.max(8, rows - 1),
    palette: props.palette,
    thresholds,
    interactive: true,
  });
}
