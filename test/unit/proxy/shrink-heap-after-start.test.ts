import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const mod = fileURLToPath(new URL('../../../src/proxy/shrink-heap-after-start.ts', import.meta.url));

// In a child of its own: the GC and the V8 flag it sets must not touch the test runner.
const script = `
import v8 from 'node:v8';
import { shrinkHeapAfterStart } from ${JSON.stringify(mod)};
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
// Objects that survive scavenges, as loading modules makes: V8 grows the young generation.
const keep = [];
for (let i = 0; i < 400_000; i++) keep.push({ i, s: 'x' + i });
const grown = newSpace();
let asked = 0;
shrinkHeapAfterStart(() => ++asked >= 2);
setTimeout(() => {
  console.log(JSON.stringify({ grown, after: newSpace(), asked, globalGc: typeof globalThis.gc, kept: keep.length }));
}, 2_500);
`;

test('shrinkHeapAfterStart: waits for ready, gives the grown young generation back, exposes no global gc', () => {
  const out = execFileSync(process.execPath, ['--max-semi-space-size=4', '--input-type=module', '-e', script], { encoding: 'utf8' });
  const r = JSON.parse(out) as { grown: number; after: number; asked: number; globalGc: string; kept: number };
  assert.ok(r.grown > 1024 * 1024, `the young generation grew first (${r.grown} bytes)`);
  assert.ok(r.after < r.grown, `shrunk: ${r.grown} -> ${r.after} bytes`);
  assert.equal(r.asked, 2, 'ready() asked once a second until true, then no more');
  assert.equal(r.globalGc, 'undefined');
  assert.equal(r.kept, 400_000);
});
