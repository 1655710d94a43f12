// The line that says why the figures may not be current: the controller is
// unreachable (with the age of the last good data, and that polling goes on),
// discovery is stale, or some proxies could not be scraped.
import React from 'react';
import { Box, Text } from 'ink';
import { formatAge } from './format-figures.ts';
import type { MeshDataState } from './use-mesh-data.ts';
import type { Palette } from './palette.ts';

export type StatusBannerProps = { state: MeshDataState; url: string; intervalMs: number; now: number; width: number; palette: Palette };

export function StatusBanner({ state, url, intervalMs, now, width, palette }: StatusBannerProps): React.ReactElement | null {
  const h = React.createElement;
  // One line each, cut to the screen: a wrapped banner would push the frame past the terminal's height.
  const fit = (s: string) => (s.length > width ? `${s.slice(0, Math.max(0, width - 1))}…` : s);
  const lines: React.ReactElement[] = [];
  const every = formatAge(intervalMs);
  if (state.error) {
    const since = state.lastOkAt === undefined ? 'no data yet' : `showing data from ${formatAge(now - state.lastOkAt)} ago`;
    // The state first (it must survive a narrow screen), then the reason on its own line.
    lines.push(h(Text, { key: 'down' }, palette.tone('bad', palette.bold(fit(`✖ controller unreachable: ${since}; retrying every ${every}`)))));
    lines.push(h(Text, { key: 'down2' }, palette.tone('bad', fit(`  ${state.error.includes(url) ? state.error : `${url}: ${state.error}`}`))));
  }
  const d = state.data?.health.discovery;
  if (d?.stale) {
    const last = d.lastEventAgeMs !== undefined ? `last event ${formatAge(d.lastEventAgeMs)} ago` : 'no event yet';
    lines.push(h(Text, { key: 'stale' }, palette.tone('warn', fit(`⚠ discovery is stale (${d.kind}, ${last}${d.error ? `: ${d.error}` : ''}): services and endpoints may be out of date`))));
  }
  const scrape = state.data?.metrics.scrapeErrors ?? [];
  if (scrape.length > 0) {
    lines.push(h(Text, { key: 'scrape' }, palette.tone('warn', fit(`⚠ ${scrape.length} prox${scrape.length === 1 ? 'y' : 'ies'} not scraped: ${scrape[0]}`))));
  }
  if (lines.length === 0) return null;
  return h(Box, { flexDirection: 'column' }, ...lines);
}
