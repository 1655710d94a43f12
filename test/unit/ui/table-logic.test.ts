// The pure parts under the dashboard: sorting (rows without traffic last),
// filtering, dropping columns to fit, the key reducer, colour levels, intervals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitColumns, filterRows, sortRows, type Row } from '../../../src/cli/ui/table-model.ts';
import { initialUiState, reduceKey } from '../../../src/cli/ui/ui-state.ts';
import { createPalette } from '../../../src/cli/ui/palette.ts';
import { parseDuration } from '../../../src/cli/parse-duration.ts';
import { edgesTable } from '../../../src/cli/ui/view-tables.ts';
import { meshData } from './mesh-fixture.ts';

const row = (name: string, rps: number | null): Row => ({ id: name, name, cells: { name: { text: name, sort: name }, rps: { text: String(rps), sort: rps } } });

test('sorting puts rows without a value last in both directions, ties by name', () => {
  const rows = [row('b', 5), row('a', null), row('c', 9), row('d', 5)];
  assert.deepEqual(sortRows(rows, { column: 'rps', descending: false }).map((r) => r.id), ['b', 'd', 'c', 'a']);
  assert.deepEqual(sortRows(rows, { column: 'rps', descending: true }).map((r) => r.id), ['c', 'b', 'd', 'a']);
  assert.deepEqual(filterRows(rows, ' C ').map((r) => r.id), ['c']);
});

test('columns are dropped by priority until the table fits; priority 0 always stays', () => {
  const cols = [
    { key: 'a', title: 'A', align: 'left' as const, priority: 0 },
    { key: 'b', title: 'B', align: 'left' as const, priority: 2 },
    { key: 'c', title: 'C', align: 'left' as const, priority: 1 },
  ];
  const w = { a: 10, b: 10, c: 10 };
  assert.deepEqual(fitColumns(cols, w, 34).map((c) => c.key), ['a', 'b', 'c']);
  assert.deepEqual(fitColumns(cols, w, 30).map((c) => c.key), ['a', 'c']);
  assert.deepEqual(fitColumns(cols, w, 5).map((c) => c.key), ['a']);
});

test('keys: views wrap with Tab and Shift-Tab, Ctrl-C and q quit, filter typing takes pasted text', () => {
  const ctx = { columns: ['name', 'rps'], rowIds: ['a', 'b'] };
  let s = initialUiState();
  s = reduceKey(s, '', { tab: true, shift: true }, ctx).state;
  assert.equal(s.view, 'proxies');
  s = reduceKey(s, '', { tab: true }, ctx).state;
  assert.equal(s.view, 'services');
  assert.equal(reduceKey(s, 'c', { ctrl: true }, ctx).quit, true);
  assert.equal(reduceKey(s, 'q', {}, ctx).quit, true);
  s = reduceKey(s, '/', {}, ctx).state;
  assert.equal(reduceKey(s, 'q', {}, ctx).quit, undefined, 'q is a letter while filtering');
  s = reduceKey(s, 'pay', {}, ctx).state;
  assert.equal(s.filter, 'pay');
  s = reduceKey(s, '', { backspace: true }, ctx).state;
  assert.equal(s.filter, 'pa');
  s = reduceKey(s, '', { return: true }, ctx).state;
  assert.equal(s.filtering, false);
  assert.equal(reduceKey(s, '', { return: true }, { ...ctx, rowIds: [] }).state.view, 'services', 'Enter with no row does nothing');
  s = reduceKey(s, '', { downArrow: true }, ctx).state;
  s = reduceKey(s, '', { downArrow: true }, ctx).state;
  assert.equal(s.selected, 1, 'selection stops at the last row');
  s = reduceKey(s, '', { return: true }, ctx).state;
  assert.deepEqual([s.view, s.service, s.filter], ['routes', 'b', '']);
  // Keys that arrive in one read are applied in order, including the filter they open.
  const fast = reduceKey(initialUiState(), '1sS/we', {}, ctx).state;
  assert.deepEqual([fast.view, fast.sort.services, fast.filtering, fast.filter], ['services', { column: 'rps', descending: true }, true, 'we']);
});

test('colour level: NO_COLOR beats FORCE_COLOR; no terminal means no colour', () => {
  assert.equal(createPalette({ env: { NO_COLOR: '1', FORCE_COLOR: '3' }, isTTY: true }).enabled, false);
  assert.equal(createPalette({ env: { NO_COLOR: '' }, isTTY: true }).enabled, true, 'an empty NO_COLOR is not set');
  assert.equal(createPalette({ env: {}, isTTY: false }).enabled, false);
  assert.equal(createPalette({ env: { FORCE_COLOR: '1' }, isTTY: false }).enabled, true);
  assert.equal(createPalette({ env: { FORCE_COLOR: '0' }, isTTY: true }).enabled, false);
});

test('intervals: 1s, 500ms, 2 (seconds); nonsense and too short are usage errors', () => {
  assert.equal(parseDuration('1s', 'x', { minMs: 100 }), 1000);
  assert.equal(parseDuration('500ms', 'x', { minMs: 100 }), 500);
  assert.equal(parseDuration('2', 'x', { minMs: 100 }), 2000);
  assert.throws(() => parseDuration('fast', '--interval', { minMs: 100 }), { code: 'MESH_ERR_USAGE', message: /--interval: "fast" is not a duration/ });
  assert.throws(() => parseDuration('10ms', '--interval', { minMs: 100 }), { code: 'MESH_ERR_USAGE' });
  // A latency threshold has no such floor.
  assert.equal(parseDuration('50ms', '--p99-threshold'), 50);
});

test('the edges view leaves out idle pseudo-edges the aggregate lists', () => {
  const data = meshData();
  data.metrics.edges.push({ source: 'web', destination: 'web', rps: 0, successRate: null, p50Ms: null, p95Ms: null, p99Ms: null, retries: 0, activeConnections: 0 });
  assert.deepEqual(edgesTable(data).rows.map((r) => r.id), ['checkout-frontend → payments', 'checkout-frontend → inventory']);
});
