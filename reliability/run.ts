// `npm run reliability [-- --quick] [--only id,id] [--out file] [--json] [--from-json f]`: the fault
// scenarios under steady load, then docs/reliability.md regenerated from the
// figures. Exit 1 when a promise is broken, 3 when Docker is missing.
import { parseArgs } from 'node:util';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipWithoutDocker } from '../test/harness/shop-project.ts';
import { startShop } from './shop-under-load.ts';
import { baseline, crashSidecar, cutEventStream, killController, killReplica, recreateReplica, stopReplica } from './shop-scenarios.ts';
import { rotateLeaves } from './rotate-scenario.ts';
import { upstreamHangs } from './upstream-hang.ts';
import { weightsWithStreams } from './weights-streams.ts';
import { renderDoc } from './reliability-doc.ts';
import type { RunOptions, ScenarioResult } from './scenario.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean', default: false },
    // Render the doc from a saved `--json` output instead of running anything.
    'from-json': { type: 'string' },
  },
});
const quick = values.quick!;
const only = values.only?.split(',');
const want = (id: string) => !only || only.includes(id);
const log = (line: string) => process.stderr.write(`[reliability ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const opts: RunOptions = { quick, log };
const results: ScenarioResult[] = [];
const record = (r: ScenarioResult) => {
  results.push(r);
  log(`${r.id}: sent ${r.figures.sent}, failed ${r.figures.failed}, worst burst ${r.figures.worstBurstMs} ms → ${r.kept === null ? 'not runnable' : r.kept ? 'kept' : r.knownIssue ? 'BROKEN (known issue)' : 'BROKEN'}`);
  for (const c of r.checks) if (!c.ok) log(`  broken: ${c.what} (${c.seen})`);
  for (const [why, n] of Object.entries(r.figures.errors).sort((a, b) => b[1] - a[1]).slice(0, 4)) log(`  ${n} × ${why}`);
};
const failedToRun = (id: string, err: unknown): ScenarioResult => ({
  id,
  title: id,
  level: 'shop (Docker)',
  load: { rate: 0, seconds: 0, what: '-' },
  figures: { sent: 0, failed: 0, worstBurstMs: 0, errors: {} },
  promise: 'the scenario runs to its end',
  kept: false,
  checks: [{ what: 'ran to its end', ok: false, seen: String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 300) }],
  notes: [],
});

if (values['from-json']) results.push(...(JSON.parse(readFileSync(values['from-json'], 'utf8')) as ScenarioResult[]));
// Loopback scenarios first: they need no Docker and are quick.
else if (want('weights-with-streams')) record(await weightsWithStreams(opts));
if (!values['from-json'] && want('upstream-hangs')) record(await upstreamHangs(opts));

const shopIds = ['baseline', 'kill-9-replica', 'stop-replica', 'recreate-replica', 'kill-controller', 'cut-event-stream', 'crash-sidecar', 'rotate-leaves'];
if (!values['from-json'] && shopIds.some(want)) {
  if (skipWithoutDocker) {
    log(`Docker: ${skipWithoutDocker}`);
    process.exit(3);
  }
  const shop = await startShop(log);
  const sigint = () => void shop.down().finally(() => process.exit(130));
  process.once('SIGINT', sigint);
  try {
    const steps: [string, typeof killReplica][] = [
      ['baseline', baseline],
      ['stop-replica', stopReplica],
      ['recreate-replica', recreateReplica],
      ['kill-9-replica', killReplica],
      ['kill-controller', killController],
      ['cut-event-stream', cutEventStream],
      ['crash-sidecar', crashSidecar],
      // Last: it replaces every certificate of the mesh.
      ['rotate-leaves', rotateLeaves],
    ];
    for (const [id, run] of steps) {
      if (!want(id)) continue;
      log(`${id} …`);
      try {
        await shop.healthy();
        record(await run(shop, opts));
      } catch (err) {
        // A scenario that could not run to its end is a broken promise, with the reason.
        record({ ...failedToRun(id, err) });
      }
    }
  } finally {
    process.removeListener('SIGINT', sigint);
    await shop.down();
  }
}

if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
const out = values.out ?? (quick ? undefined : fileURLToPath(new URL('../docs/reliability.md', import.meta.url)));
if (out) {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, renderDoc(results, { quick, command: `npm run reliability${quick ? ' -- --quick' : ''}${only ? ` -- --only ${only.join(',')}` : ''}` }));
  log(`wrote ${out}`);
}
const known = results.filter((r) => r.kept === false && r.knownIssue);
if (known.length) log(`broken by a known, reported issue: ${known.map((r) => r.id).join(', ')}`);
const broken = results.filter((r) => r.kept === false && !r.knownIssue);
if (broken.length) log(`broken promises: ${broken.map((r) => r.id).join(', ')}`);
process.exit(broken.length ? 1 : 0);
