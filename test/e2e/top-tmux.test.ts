// Drives `meshctl top` in a real terminal (tmux) as a person would: start it
// against a live controller with load running, press keys, read the screen.
// Each screen is kept in test/artifacts/top-tmux-*.txt. Needs tmux, not Docker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../harness/eventually.ts';
import { MESHCTL, startSmallMesh } from '../integration/top/small-mesh.ts';

const ARTIFACTS = join(import.meta.dirname, '../artifacts');

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('meshctl top in tmux: views, sort, filter and quit by keys', { skip: !hasTmux() && 'tmux is not installed' }, async (t) => {
  // A private tmux server (its own socket), so no session of the user's is touched.
  const socket = `meshctl-top-${process.pid}`;
  const tmux = (...args: string[]) =>
    new Promise<string>((resolve, reject) => execFile('tmux', ['-L', socket, ...args], (err, out) => (err ? reject(err) : resolve(out))));
  t.after(() => tmux('kill-server').catch(() => {}));
  const mesh = await startSmallMesh(t);
  let loading = true;
  const load = (async () => {
    // Paced, so the test measures the dashboard and not how fast two cores can spin.
    while (loading) {
      await mesh.batch();
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  t.after(async () => {
    loading = false;
    await load;
  });

  const command = ['env', 'NO_COLOR=1', process.execPath, MESHCTL, 'top', ...mesh.cli].map((a) => `'${a}'`).join(' ');
  await tmux('new-session', '-d', '-s', 'top', '-x', '120', '-y', '30', command);

  mkdirSync(ARTIFACTS, { recursive: true });
  const screen = () => tmux('capture-pane', '-p', '-t', 'top');
  const until = async (name: string, check: (s: string) => void) => {
    const s = await eventually(
      async () => {
        const s = await screen();
        check(s);
        return s;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    writeFileSync(join(ARTIFACTS, `top-tmux-${name}.txt`), s);
    return s;
  };
  const rowsOf = (s: string) =>
    s
      .split('\n')
      .map((l) => /^[› ] (web|product)\s/.exec(l)?.[1])
      .filter(Boolean);

  await until('1-services', (s) => {
    assert.match(s, /SERVICE ▲\s+RPS\s+SUCCESS\s+P50\s+P95\s+P99\s+RETRY\/S\s+CONNS/);
    assert.match(s, /^[› ] product\s+\d+(\.\d)?\s+75\.00%/m);
    assert.match(s, /q quit/);
  });
  await tmux('send-keys', '-t', 'top', '2');
  await until('2-edges', (s) => {
    // The sidecars talk mTLS (the harness mesh runs the controller's CA): the edge says so.
    assert.match(s, /^[› ] web → product\s+\d+(\.\d)?\s+75\.00%.*\byes$/m);
    assert.doesNotMatch(s, /web → web|unknown → /, 'idle pseudo-edges are not shown');
  });
  // One key at a time, as a person types: keys sent together arrive as one paste.
  await tmux('send-keys', '-t', 'top', '1');
  await until('3-services-again', (s) => assert.match(s, /SERVICE ▲/));
  await tmux('send-keys', '-t', 'top', 's');
  await until('3-sorted-rps-asc', (s) => assert.match(s, /RPS ▲/));
  await tmux('send-keys', '-t', 'top', 'S');
  const sorted = await until('3-sorted-rps-desc', (s) => assert.match(s, /RPS ▼/));
  // Only product has inbound traffic: it sorts first when sorting by RPS, descending.
  assert.deepEqual(rowsOf(sorted)[0], 'product');
  await tmux('send-keys', '-t', 'top', '/');
  await until('4-filter-open', (s) => assert.match(s, /filter: \/█/));
  await tmux('send-keys', '-t', 'top', 'web');
  const filtered = await until('4-filter-web', (s) => assert.match(s, /filter: \/web█/));
  assert.deepEqual(rowsOf(filtered), ['web']);
  await tmux('send-keys', '-t', 'top', 'Escape');
  await until('5-filter-cleared', (s) => assert.doesNotMatch(s, /filter:/));
  // product sorts first (RPS ▼) and is highlighted: Enter shows its routes, Backspace comes back.
  await tmux('send-keys', '-t', 'top', 'Enter');
  await until('5-routes-product', (s) => {
    assert.match(s, /3 routes \(product\)/);
    assert.match(s, /ROUTE ▲\s+RPS/);
    assert.match(s, /^  \S+\s+\d+(\.\d)?\s+75\.00%/m);
  });
  await tmux('send-keys', '-t', 'top', 'BSpace');
  await until('5-back-to-services', (s) => assert.match(s, /SERVICE\s+RPS ▼/));
  await tmux('send-keys', '-t', 'top', '4');
  await until('6-proxies', (s) => {
    assert.match(s, /PROXY ▲/);
    assert.match(s, /^  product-mesh\s+product\s+\d+\s+in sync/m);
    // The CA's 24 h leaf, renewed at 2/3: between 8 h and 24 h left.
    assert.match(s, /^  product-mesh\s.*\bin (\d|1\d|2[0-3])h\d\dm\b/m);
  });
  // The terminal shrinks to 80 columns: the frame follows (short help line, nothing wider than the screen).
  // Which columns go at 80 is covered with long names in test/unit/ui/dashboard.test.ts.
  await tmux('send-keys', '-t', 'top', '1');
  await tmux('resize-window', '-t', 'top', '-x', '80', '-y', '24');
  const narrow = await until('6-services-80-columns', (s) => {
    assert.match(s, /SERVICE\s+RPS ▼\s+SUCCESS/);
    assert.match(s, /^1-4 view ↑↓ Enter drill/m);
  });
  for (const l of narrow.split('\n')) assert.ok(l.length <= 80, l);
  // Stop the load before anything closes (t.after hooks close the proxies in registration order).
  loading = false;
  await load;
  // The controller goes away: the screen says so, keeps the last figures, and keeps retrying.
  await mesh.ctl.close();
  const productRow = (s: string) => /^› product\s+\d+(\.\d)?\s+\d+\.\d\d%.*$/m.exec(s)?.[0];
  const gone = await until('7-controller-gone', (s) => {
    assert.match(s, /✖ controller unreachable: showing data from \d+s ago; retrying every 1s/);
    assert.match(s, /^  cannot reach the controller at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)$/m);
    assert.ok(productRow(s), `the last good figures stay:\n${s}`);
  });
  // They stay as they were: nothing new arrives while the controller is away (the banner's age goes on).
  await until('7-controller-gone-later', (s) => {
    assert.match(s, /showing data from \d+s ago/);
    assert.notEqual(s, gone, 'the screen still refreshes');
    assert.equal(productRow(s), productRow(gone));
  });
  await tmux('send-keys', '-t', 'top', 'q');
  await eventually(async () => assert.equal(await tmux('has-session', '-t', 'top').then(() => 'running', () => 'gone'), 'gone'), { timeoutMs: 10_000, intervalMs: 100 });
});
