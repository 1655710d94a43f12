// `meshctl top`: the live dashboard on a terminal, or with --once one frame
// (text, or the data as JSON) for scripts. An unreachable controller is an
// error (exit 3) for --once; the live view shows it and keeps retrying.
import React from 'react';
import { render, renderToString } from 'ink';
import { ControllerClient } from '../controller-client.ts';
import { MeshError } from '../../shared/errors.ts';
import { Dashboard } from './dashboard.ts';
import { controllerSource, fetchMeshData } from './fetch-mesh-data.ts';
import { createPalette } from './palette.ts';
import { parseDuration } from '../parse-duration.ts';
import { TopApp } from './top-app.ts';
import { initialUiState } from './ui-state.ts';
import { DEFAULT_THRESHOLDS, VIEWS, type ViewName } from './view-tables.ts';

export type TopOptions = {
  controller?: string;
  token?: string;
  interval: string;
  view: string;
  service?: string;
  p99Threshold: string;
  once?: boolean;
  json?: boolean;
};

export async function runTop(opts: TopOptions): Promise<void> {
  const intervalMs = parseDuration(opts.interval, '--interval', { minMs: 100 });
  const thresholds = { ...DEFAULT_THRESHOLDS, p99Ms: parseDuration(opts.p99Threshold, '--p99-threshold') };
  if (!(VIEWS as readonly string[]).includes(opts.view)) {
    throw new MeshError('MESH_ERR_USAGE', `--view: "${opts.view}" is not a view`, `use one of ${VIEWS.join(', ')}`);
  }
  const ui = initialUiState(opts.view as ViewName, opts.service);
  const client = controllerSource(await ControllerClient.connect({ url: opts.controller, token: opts.token }));
  const palette = createPalette({ isTTY: process.stdout.isTTY });

  if (opts.once || opts.json) {
    const data = await fetchMeshData(client);
    if (opts.json) {
      process.stdout.write(JSON.stringify(data, null, 2) + '\n');
      return;
    }
    const width = process.stdout.columns || Number(process.env.COLUMNS) || 120;
    const state = { data, stale: data.health.discovery.stale, lastOkAt: data.at, checkedAt: data.at };
    const frame = renderToString(React.createElement(Dashboard, { state, ui, url: client.url, intervalMs, width, palette, thresholds }), { columns: width });
    process.stdout.write(frame + '\n');
    return;
  }

  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new MeshError('MESH_ERR_USAGE', 'meshctl top needs a terminal for its live view', 'run it in a terminal, or use `meshctl top --once` (add --json for scripts)');
  }
  // A terminal is interactive even where CI is set (ink would otherwise draw
  // only the last frame, at exit, and the dashboard would look frozen).
  const app = render(React.createElement(TopApp, { client, intervalMs, palette, thresholds, initial: ui }), { interactive: true, alternateScreen: true, exitOnCtrlC: true, patchConsole: true });
  await app.waitUntilExit();
}
