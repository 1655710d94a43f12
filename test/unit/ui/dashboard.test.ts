// The dashboard frame rendered to a string with fixed data: what the user
// reads in each view, the banners, the 80-column layout and NO_COLOR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import React from 'react';
import { renderToString } from 'ink';
import { stripVTControlCharacters } from 'node:util';
import { Dashboard, type DashboardProps } from '../../../src/cli/ui/dashboard.ts';
import { createPalette } from '../../../src/cli/ui/palette.ts';
import { initialUiState, type UiState } from '../../../src/cli/ui/ui-state.ts';
import type { MeshDataState } from '../../../src/cli/ui/use-mesh-data.ts';
import { AT, meshData } from './mesh-fixture.ts';

const plain = createPalette({ env: { NO_COLOR: '1' } });
const colour = createPalette({ env: { FORCE_COLOR: '1' } });
const ok = (): MeshDataState => ({ data: meshData(), stale: false, lastOkAt: AT, checkedAt: AT });

function frame(over: Partial<DashboardProps> & { ui?: UiState } = {}): string {
  const width = over.width ?? 120;
  const props: DashboardProps = { state: ok(), ui: initialUiState(), url: 'http://127.0.0.1:15010', intervalMs: 1000, width, palette: plain, ...over };
  return renderToString(React.createElement(Dashboard, props), { columns: width });
}
const lines = (s: string) => stripVTControlCharacters(s).split('\n');
const headerOf = (s: string) => lines(s).find((l) => /SERVICE|SOURCE|ROUTE|PROXY/.test(l))!;
const rowOf = (s: string, name: string) => lines(s).find((l) => l.trimStart().startsWith(name))!;

test('services view: a row per service with every figure column, and version rows with canary weights', () => {
  const f = frame();
  const header = headerOf(f);
  for (const col of ['SERVICE ▲', 'RPS', 'SUCCESS', 'P50', 'P95', 'P99', 'RETRY/S', 'CONNS', 'WEIGHT']) assert.ok(header.includes(col), `${col} in ${header}`);
  assert.match(rowOf(f, 'payments'), /payments\s+12\.0\s+90\.00%\s+20ms\s+300ms\s+1\.2s\s+1\.5\s+3\s+split/);
  assert.match(rowOf(f, 'checkout-frontend'), /42\.5\s+99\.90%/);
  assert.match(rowOf(f, '└ v1'), /90%$/);
  assert.match(rowOf(f, '└ v2'), /10%$/);
  assert.match(f, /project shop/);
  // Sorted by name: checkout-frontend, inventory, payments.
  const order = ['checkout-frontend', 'inventory', 'payments'].map((n) => f.indexOf(`  ${n} `));
  assert.deepEqual([...order].sort((a, b) => a - b), order);
});

test('at 80 columns the least important columns go and every line fits', () => {
  const f = frame({ width: 80 });
  const header = headerOf(f);
  for (const col of ['SERVICE', 'RPS', 'SUCCESS', 'P99']) assert.ok(header.includes(col), `${col} kept: ${header}`);
  assert.ok(!header.includes('CONNS'), `dropped: ${header}`);
  for (const l of lines(f)) assert.ok(l.length <= 80, `${l.length}: ${l}`);
  // The wide frame keeps them: the narrow layout is a choice, not a loss.
  assert.ok(headerOf(frame({ width: 120 })).includes('CONNS'));
});

test('edges view: source → destination with the same figures and whether the edge is mTLS', () => {
  const f = frame({ ui: initialUiState('edges') });
  const header = headerOf(f);
  for (const col of ['SOURCE → DESTINATION', 'RPS', 'SUCCESS', 'P99', 'MTLS']) assert.ok(header.includes(col), header);
  assert.match(rowOf(f, 'checkout-frontend → payments'), /12\.0\s+90\.00%.*\byes$/);
  assert.match(rowOf(f, 'checkout-frontend → inventory'), /80\.0\s+97\.00%.*\bno$/);
  // A controller that does not say (older, or no request seen yet): "unknown", never a guess.
  const old = meshData();
  old.metrics.edges = old.metrics.edges.map(({ mtls: _, ...e }) => e);
  const g = frame({ ui: initialUiState('edges'), state: { data: old, stale: false, lastOkAt: AT, checkedAt: AT } });
  assert.match(rowOf(g, 'checkout-frontend → payments'), /unknown$/);
});

test('routes view: one service\'s routes from the per-route figures', () => {
  const f = frame({ ui: initialUiState('routes', 'payments') });
  assert.match(f, /3 routes \(payments\)/);
  assert.match(rowOf(f, 'charge'), /10\.0\s+88\.00%/);
  assert.match(rowOf(f, 'refund'), /2\.0\s+100\.00%/);
  assert.ok(!f.includes('in:inventory'), 'only the chosen service');
  const none = frame({ ui: initialUiState('routes') });
  assert.match(none, /pick a service/);
});

test('proxies view: version, sync state, sync age with the stale one in red, certificate expiry', () => {
  const f = frame({ ui: initialUiState('proxies'), palette: colour });
  const header = headerOf(f);
  for (const col of ['PROXY', 'SERVICE', 'VERSION', 'SYNC', 'SYNC AGE', 'CERT EXPIRY']) assert.ok(header.includes(col), header);
  assert.match(rowOf(f, 'payments-mesh'), /payments\s+8→9\s+behind\s+45s/);
  assert.match(rowOf(f, 'checkout-frontend-mesh'), /7\s+in sync\s+4s/);
  const raw = f.split('\n').find((l) => l.includes('payments-mesh'))!;
  assert.ok(raw.includes('\x1b[31m') && raw.includes('45s'), JSON.stringify(raw));
  const fresh = f.split('\n').find((l) => l.includes('checkout-frontend-mesh'))!;
  assert.ok(!fresh.includes('\x1b[31m'), 'an in-sync proxy is not red');
  // The proxy's own leaf, else its service's latest; under a third of the lifetime left is yellow (renewal overdue).
  assert.match(rowOf(f, 'checkout-frontend-mesh'), /in 20h00m/);
  assert.match(rowOf(f, 'payments-mesh'), /in 2h00m/);
  assert.match(raw, /\x1b\[33m\s*in 2h00m/);
  const noCa = meshData();
  delete noCa.certs;
  const g = frame({ ui: initialUiState('proxies'), state: { data: noCa, stale: false, lastOkAt: AT, checkedAt: AT } });
  assert.doesNotMatch(rowOf(g, 'payments-mesh'), /in \d/);
});

test('controller unreachable: a banner with the age of the last good data, the old figures stay', () => {
  const state: MeshDataState = { ...ok(), error: 'cannot reach the controller (ECONNREFUSED)', stale: true, checkedAt: AT + 12_000 };
  const f = stripVTControlCharacters(frame({ state }));
  assert.match(f, /✖ controller unreachable: showing data from 12s ago; retrying every 1s/);
  assert.match(f, /^  http:\/\/127\.0\.0\.1:15010: cannot reach the controller \(ECONNREFUSED\)$/m);
  assert.ok(rowOf(f, 'payments'), 'last good figures still shown');
  const never = stripVTControlCharacters(frame({ state: { stale: true, error: 'ECONNREFUSED', checkedAt: AT } }));
  assert.match(never, /✖ controller unreachable: no data yet; retrying every 1s/);
  // At 80 columns a long reason is cut, not wrapped, so the frame keeps its height.
  const narrow = stripVTControlCharacters(frame({ width: 80, state: { ...state, error: `cannot reach the controller at http://127.0.0.1:15010 (${'x'.repeat(100)})` } }));
  for (const l of lines(narrow)) assert.ok(l.length <= 80, l);
  assert.match(narrow, /✖ controller unreachable: showing data from 12s ago; retrying every 1s/);
  assert.match(narrow, /^  cannot reach the controller at http:\/\/127\.0\.0\.1:15010 \(x+…$/m);
});

test('discovery stale and scrape errors are said on screen', () => {
  const data = meshData();
  data.health.discovery = { kind: 'docker', stale: true, lastEventAgeMs: 42_000, error: 'connect ENOENT /var/run/docker.sock' };
  data.metrics.scrapeErrors = ['payments-mesh (http://10.0.0.3:15000/metrics): HTTP 500'];
  const f = stripVTControlCharacters(frame({ state: { data, stale: true, lastOkAt: AT, checkedAt: AT } }));
  assert.match(f, /⚠ discovery is stale \(docker, last event 42s ago: connect ENOENT/);
  assert.match(f, /⚠ 1 proxy not scraped: payments-mesh/);
  assert.ok(!f.includes('unreachable'));
});

test('colours follow health; NO_COLOR leaves no escape codes even with FORCE_COLOR set', () => {
  const coloured = frame({ palette: colour });
  const pay = coloured.split('\n').find((l) => l.includes('payments') && l.includes('%'))!;
  assert.match(pay, /\x1b\[31m\s*90\.00%/, 'success 90% is red');
  assert.match(pay, /\x1b\[31m\s*1\.2s/, 'p99 above twice the threshold is red');
  const inv = coloured.split('\n').find((l) => l.includes('inventory'))!;
  assert.ok(inv.includes('\x1b[33m'), `success 97% / p99 600ms is yellow: ${JSON.stringify(inv)}`);
  const none = frame({ palette: createPalette({ env: { NO_COLOR: '1', FORCE_COLOR: '3' } }) });
  assert.ok(!none.includes('\x1b['), JSON.stringify(none.slice(0, 200)));
  assert.equal(stripVTControlCharacters(coloured), none, 'same text with and without colour');
});

test('a long table is cut to the terminal height and says how many rows are hidden', () => {
  const data = meshData();
  data.metrics.services = Array.from({ length: 40 }, (_, i) => ({ ...data.metrics.services[0]!, service: `svc-${String(i).padStart(2, '0')}` }));
  data.services = [];
  data.overrides = { services: {} };
  const f = stripVTControlCharacters(frame({ state: { data, stale: false, lastOkAt: AT, checkedAt: AT }, height: 20, interactive: true }));
  assert.ok(lines(f).length <= 20, `${lines(f).length} lines`);
  assert.match(f, /… \d+ more \(filter with \/\)/);
  assert.match(f, /q quit/);
});
