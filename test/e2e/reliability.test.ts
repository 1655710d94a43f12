// The reliability suite's bounded CI form (`npm run reliability -- --quick`):
// every fault scenario under load, on the shop (real Docker) and on loopback.
// The test fails when the run reports a broken promise (other than one broken
// only by an already reported bug, which it prints), and prints each
// scenario's figures either way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { skipWithoutDocker } from '../harness/shop-project.ts';
import type { ScenarioResult } from '../../reliability/scenario.ts';

const RUN = fileURLToPath(new URL('../../reliability/run.ts', import.meta.url));

test('reliability --quick: every promise of the fault suite is kept', { skip: skipWithoutDocker, timeout: 15 * 60_000 }, async (t) => {
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [RUN, '--quick', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const results = JSON.parse(r.stdout || '[]') as ScenarioResult[];
  for (const s of results) {
    t.diagnostic(`${s.id}: ${s.kept === null ? 'not runnable' : s.kept ? 'kept' : s.knownIssue ? 'BROKEN (known issue)' : 'BROKEN'} — sent ${s.figures.sent}, failed ${s.figures.failed}, worst burst ${s.figures.worstBurstMs} ms`);
    for (const c of s.checks) if (!c.ok) t.diagnostic(`  broken: ${c.what} (${c.seen})`);
    // The mesh's reasons (x-mesh-error names the hop): what a broken promise was broken by.
    if (s.kept === false) for (const [why, n] of Object.entries(s.figures.errors)) t.diagnostic(`  ${n} × ${why}`);
  }
  assert.ok(results.length > 0, `the suite produced no results:\n${r.stderr}`);
  // A promise broken only by a reported bug (knownIssue, with its failure signature) is printed above, not failed on.
  assert.deepEqual(results.filter((s) => s.kept === false && !s.knownIssue).map((s) => s.id), [], r.stderr.split('\n').filter((l) => /broken|BROKEN/.test(l)).join('\n'));
  assert.equal(r.code, 0, r.stderr);
});
