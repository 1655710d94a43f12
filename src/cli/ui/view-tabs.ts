// The title line and the view tabs: which view is on, which service the
// routes view is about, and whether the screen is paused.
import React from 'react';
import { Box, Text } from 'ink';
import type { Palette } from './palette.ts';
import type { UiState } from './ui-state.ts';
import { VIEWS } from './view-tables.ts';

export type ViewTabsProps = { ui: UiState; project?: string; url: string; intervalMs: number; at?: number; palette: Palette };

export function ViewTabs({ ui, project, url, at, palette }: ViewTabsProps): React.ReactElement {
  const h = React.createElement;
  const time = at === undefined ? '' : new Date(at).toISOString().slice(11, 19);
  const title = [palette.bold('meshctl top'), project ? `project ${project}` : '', url, time ? `${time} UTC` : ''].filter(Boolean).join('  ·  ');
  const tabs = VIEWS.map((v, i) => {
    const label = `${i + 1} ${v}${v === 'routes' && ui.service ? ` (${ui.service})` : ''}`;
    return v === ui.view ? palette.inverse(palette.bold(` ${label} `)) : ` ${label} `;
  }).join(' ');
  return h(
    Box,
    { flexDirection: 'column' },
    h(Text, null, title + (ui.paused ? `  ${palette.tone('warn', palette.bold('PAUSED (p to resume)'))}` : '')),
    h(Text, null, tabs),
  );
}
