// The live dashboard driven by keys on a fake terminal, fed by a data source
// with fixed data: sorting, filtering, switching views, drilling in, pausing,
// quitting, and the banner when the controller goes away and comes back.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import React from 'react';
import { render } from 'ink';
import { MeshError } from '../../../src/shared/errors.ts';
import { createPalette } from '../../../src/cli/ui/palette.ts';
import { TopApp } from '../../../src/cli/ui/top-app.ts';
import type { MeshData } from '../../../src/cli/ui/fetch-mesh-data.ts';
import { eventually } from '../../harness/eventually.ts';
import { FakeStdin, FakeStdout } from './fake-terminal.ts';
import { fixedSource, meshData } from './mesh-fixture.ts';

function start(t: TestContext, get: () => MeshData | Error = () => meshData(), size = { columns: 120, rows: 30 }) {
  const stdout = new FakeStdout(size.columns, size.rows);
  const stdin = new FakeStdin();
  const source = fixedSource(get);
  const app = render(React.createElement(TopApp, { client: source, intervalMs: 50, palette: createPalette({ env: { NO_COLOR: '1' } }), size }), {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    stderr: new FakeStdout(size.columns, size.rows) as unknown as NodeJS.WriteStream,
    debug: true,
    interactive: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  t.after(() => app.unmount());
  return { stdout, stdin, source, app };
}

/** Service names in the order the services table shows them. */
function serviceOrder(screen: string): string[] {
  return screen
    .split('\n')
    .map((l) => /^[› ] (checkout-frontend|inventory|payments)\s/.exec(l)?.[1])
    .filter((n): n is string => !!n);
}

test('s cycles the sort column, S flips the direction, and the rows follow', async (t) => {
  const { stdout, stdin } = start(t);
  await eventually(() => assert.deepEqual(serviceOrder(stdout.screen()), ['checkout-frontend', 'inventory', 'payments']));
  stdin.type('s'); // → RPS ascending
  await eventually(() => assert.match(stdout.screen(), /RPS ▲/));
  assert.deepEqual(serviceOrder(stdout.screen()), ['payments', 'checkout-frontend', 'inventory']);
  stdin.type('S'); // → RPS descending
  await eventually(() => assert.match(stdout.screen(), /RPS ▼/));
  assert.deepEqual(serviceOrder(stdout.screen()), ['inventory', 'checkout-frontend', 'payments']);
  stdin.type('s'); // → SUCCESS, still descending
  await eventually(() => assert.match(stdout.screen(), /SUCCESS ▼/));
  assert.deepEqual(serviceOrder(stdout.screen()), ['checkout-frontend', 'inventory', 'payments']);
});

test('/ filters by name and Esc clears it', async (t) => {
  const { stdout, stdin } = start(t);
  await eventually(() => assert.equal(serviceOrder(stdout.screen()).length, 3));
  stdin.type('/');
  for (const ch of 'pay') stdin.type(ch);
  await eventually(() => assert.match(stdout.screen(), /filter: \/pay█/));
  assert.deepEqual(serviceOrder(stdout.screen()), ['payments']);
  stdin.type('\r'); // keep the filter, leave typing mode
  await eventually(() => assert.match(stdout.screen(), /filter: \/pay  \(Esc clears\)/));
  stdin.type('\x1b');
  await eventually(() => assert.equal(serviceOrder(stdout.screen()).length, 3));
  assert.doesNotMatch(stdout.screen(), /filter:/);
});

test('number keys and Tab switch views; Enter drills into the highlighted service, Backspace goes back', async (t) => {
  const { stdout, stdin } = start(t);
  await eventually(() => assert.equal(serviceOrder(stdout.screen()).length, 3));
  stdin.type('2');
  await eventually(() => assert.match(stdout.screen(), /SOURCE → DESTINATION/));
  stdin.type('\t');
  await eventually(() => assert.match(stdout.screen(), /pick a service/));
  stdin.type('4');
  await eventually(() => assert.match(stdout.screen(), /PROXY ▲.*SYNC AGE/));
  stdin.type('1');
  await eventually(() => assert.match(stdout.screen(), /SERVICE ▲/));
  stdin.type('\x1b[B'); // down: inventory
  await eventually(() => assert.match(stdout.screen(), /^› inventory/m));
  stdin.type('\x1b[B'); // down: payments
  await eventually(() => assert.match(stdout.screen(), /^› payments/m));
  stdin.type('\r');
  await eventually(() => assert.match(stdout.screen(), /3 routes \(payments\)/));
  assert.match(stdout.screen(), /charge\s+10\.0\s+88\.00%/);
  stdin.type('\x7f');
  await eventually(() => assert.match(stdout.screen(), /SERVICE ▲/));
});

test('the controller going away shows the banner and polling goes on until it is back', async (t) => {
  let down = false;
  const { stdout, source } = start(t, () => (down ? new MeshError('MESH_ERR_CONTROLLER_UNREACHABLE', 'cannot reach the controller at http://127.0.0.1:15010 (ECONNREFUSED)') : meshData()));
  await eventually(() => assert.equal(serviceOrder(stdout.screen()).length, 3));
  down = true;
  await eventually(() => assert.match(stdout.screen(), /✖ controller unreachable: showing data from \S+ ago; retrying every 50ms/));
  assert.match(stdout.screen(), /^  cannot reach the controller at http:\/\/127\.0\.0\.1:15010 \(ECONNREFUSED\)$/m);
  assert.equal(serviceOrder(stdout.screen()).length, 3, 'the last good figures stay on screen');
  const calls = source.calls;
  await eventually(() => assert.ok(source.calls > calls + 2, 'still polling'));
  down = false;
  await eventually(() => assert.doesNotMatch(stdout.screen(), /unreachable/));
});

test('p pauses polling and says so; q quits', async (t) => {
  const { stdout, stdin, source, app } = start(t);
  await eventually(() => assert.equal(serviceOrder(stdout.screen()).length, 3));
  stdin.type('p');
  await eventually(() => assert.match(stdout.screen(), /PAUSED/));
  const calls = source.calls;
  await new Promise((r) => setTimeout(r, 300)); // six intervals: no round may start while paused
  assert.ok(source.calls <= calls + 1, `${source.calls - calls} rounds while paused`);
  stdin.type('p');
  await eventually(() => assert.ok(source.calls > calls + 1));
  stdin.type('q');
  await app.waitUntilExit();
});
