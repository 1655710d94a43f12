// Memory of meshctl hops under a long steady load: every few seconds, each
// hop's RSS split into anonymous and file-backed pages (/proc/<pid>/status)
// and V8's own view (process.memoryUsage(), printed by lib/memory-probe.mjs
// inside the hop); at the end a forced full GC shows how much of the heap was
// live. CPU per request comes from /proc. Not part of `npm run bench`.
//
//   node bench/memory-curve.ts                                  # 2 hops, 500 req/s, 5 min, compiled JS
//   node bench/memory-curve.ts --minutes 3 --rate 1000
//   node bench/memory-curve.ts --scenario cm                    # a meshctl chain of scenarios.ts (cm: mTLS)
//   node bench/memory-curve.ts --node-args="--max-old-space-size=64"   # V8 flags for the hops
//   node bench/memory-curve.ts --node-args=                     # no flags (the default is what the image ships)
//   node bench/memory-curve.ts --trace-gc                       # also count GCs from --trace-gc
//   node bench/memory-curve.ts --meshctl <entry>                # src, dist, build (default: compile src/ into
//                                                               # bench/results/pkg, as npm run bench --meshctl build) or a main.js
// The hops also get --expose-gc and --import lib/memory-probe.mjs; neither changes how V8 sizes its heap.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProcessGroup } from './lib/process-group.ts';
import { startUpstream } from './upstream/start-upstream.ts';
import { startCheckedChain } from './run-scenario.ts';
import { meshctlEntries, meshctlSettings, shippedNodeArgs } from './hops/meshctl.ts';
import { buildMeshctl } from './hops/build-meshctl.ts';
import { cpuSeconds, rssSplit, type RssSplit } from './lib/proc-stats.ts';
import { runOpenLoop } from './lib/open-loop.ts';
import { meshctlScenario } from './scenarios.ts';

const { values: o } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    rate: { type: 'string', default: '500' },
    hops: { type: 'string', default: '2' },
    scenario: { type: 'string' },
    every: { type: 'string', default: '10' },
    'node-args': { type: 'string' },
    meshctl: { type: 'string', default: 'build' },
    'trace-gc': { type: 'boolean', default: false },
  },
});

const MB = 2 ** 20;
const probe = fileURLToPath(new URL('./lib/memory-probe.mjs', import.meta.url));

interface Probe {
  kind: string;
  t: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Committed bytes per V8 space (v8.getHeapSpaceStatistics()). */
  spaces?: Record<string, number>;
}

function probes(file: string): Probe[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.startsWith('memprobe '))
    .map((l) => JSON.parse(l.slice('memprobe '.length)) as Probe);
}

/** GCs from --trace-gc lines, by kind ("Scavenge", "Mark-Compact", ...): count, total and longest pause (ms). */
function gcCounts(file: string): Record<string, { n: number; totalMs: number; maxMs: number }> {
  const by: Record<string, { n: number; totalMs: number; maxMs: number }> = {};
  for (const m of readFileSync(file, 'utf8').matchAll(/^\[\d+:0x[0-9a-f]+\]\s+\d+ ms: ([A-Za-z-]+(?: [A-Za-z-]+)?) .*? MB, ([\d.]+) \/ [\d.]+ ms/gm)) {
    const k = (by[m[1]!] ??= { n: 0, totalMs: 0, maxMs: 0 });
    const ms = Number(m[2]);
    k.n++;
    k.totalMs += ms;
    k.maxMs = Math.max(k.maxMs, ms);
  }
  return by;
}

const mb = (n: number) => (n / MB).toFixed(1);

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'meshctl-memcurve-'));
  const userArgs = o['node-args'] === undefined ? shippedNodeArgs : o['node-args'].split(' ').filter(Boolean);
  meshctlSettings.entry = o.meshctl === 'src' || o.meshctl === 'dist' ? meshctlEntries[o.meshctl] : o.meshctl === 'build' ? buildMeshctl((s) => process.stderr.write(`${s}\n`)) : o.meshctl;
  meshctlSettings.nodeArgs = ['--expose-gc', '--import', probe, ...(o['trace-gc'] ? ['--trace-gc'] : []), ...userArgs];
  meshctlSettings.stdoutFile = (i) => join(tmp, `hop${i}.out`);
  const everyMs = Number(o.every) * 1000;
  process.env.MEMORY_PROBE_MS = String(everyMs);
  const procs = new ProcessGroup();
  try {
    const upstream = await startUpstream('haproxy', procs, tmp, 1024);
    // --scenario takes a meshctl scenario's chain from scenarios.ts (cm: mTLS between the hops, cp: policies on).
    const picked = meshctlScenario(o.scenario);
    const hops = picked?.hops ?? Array.from({ length: Number(o.hops) }, () => ({ kind: 'meshctl-http' as const }));
    const chain = await startCheckedChain({ id: 'memory', label: 'memory curve', hops }, upstream.address, procs, tmp);
    const { url, pids } = chain;
    const log = (s: string) => process.stdout.write(`${s}\n`);
    log(`${picked ? `scenario ${picked.id} (${picked.label})` : `${pids.length} hop(s)`}, open loop ${o.rate} req/s for ${o.minutes} min; hop node args: ${userArgs.join(' ') || '(none)'}; entry ${meshctlSettings.entry}`);
    log('t s  | per hop: RSS = anon + file MB | heapUsed/heapTotal (new, old, large-object space) external arrayBuffers MB (V8, from the previous probe)');
    const t0 = Date.now();
    const curve: { t: number; split: RssSplit[] }[] = [];
    const sample = () => {
      const split = pids.map(rssSplit);
      const t = Math.round((Date.now() - t0) / 1000);
      curve.push({ t, split });
      const v8 = chain.hops.map((_h, i) => probes(join(tmp, `hop${i}.out`)).at(-1));
      log(
        `${String(t).padStart(4)} | ${split
          .map((s, i) => {
            const p = v8[i];
            const sp = p?.spaces ?? {};
            const spaces = `(${mb(sp.new_space ?? 0)}, ${mb(sp.old_space ?? 0)}, ${mb(sp.large_object_space ?? 0)})`;
            return `${mb(s.rss)} = ${mb(s.anon)} + ${mb(s.file)} | ${p ? `${mb(p.heapUsed)}/${mb(p.heapTotal)} ${spaces} ${mb(p.external)} ${mb(p.arrayBuffers)}` : '-'}`;
          })
          .join('  ||  ')}`,
      );
    };
    sample();
    const timer = setInterval(sample, everyMs);
    const cpu0 = pids.map(cpuSeconds);
    const run = await runOpenLoop({ url, rate: Number(o.rate), connections: 8, durationMs: Number(o.minutes) * 60_000, expectBytes: 1024 });
    const cpu1 = pids.map(cpuSeconds);
    clearInterval(timer);
    sample();
    const requests = run.ok + run.errors;
    log(`\n${requests} requests (${run.errors} errors), p50 ${run.latency.p50.toFixed(3)} ms, p99 ${run.latency.p99.toFixed(3)} ms`);
    // Forced full GC in every hop: what is left is live; the rest of the heap was garbage V8 had not collected.
    const before = pids.map(rssSplit);
    for (const pid of pids) process.kill(pid, 'SIGUSR2');
    await sleep(2000);
    const after = pids.map(rssSplit);
    chain.hops.forEach((_h, i) => {
      const all = probes(join(tmp, `hop${i}.out`));
      const gc = all.filter((p) => p.kind === 'after-gc').at(-1);
      const last = all.filter((p) => p.kind === 'tick').at(-1);
      const rssMax = Math.max(...curve.map((c) => c.split[i]!.rss));
      const anonMax = Math.max(...curve.map((c) => c.split[i]!.anon));
      log(
        `hop ${i}: CPU ${(((cpu1[i]! - cpu0[i]!) / requests) * 1e6).toFixed(1)} µs/request; RSS peak ${mb(rssMax)} MB (anon peak ${mb(anonMax)}); ` +
          `before forced GC: RSS ${mb(before[i]!.rss)} (anon ${mb(before[i]!.anon)}), heapUsed ${last ? mb(last.heapUsed) : '?'} of ${last ? mb(last.heapTotal) : '?'}; ` +
          `after: RSS ${mb(after[i]!.rss)} (anon ${mb(after[i]!.anon)}, file ${mb(after[i]!.file)}), heapUsed ${gc ? mb(gc.heapUsed) : '?'} of ${gc ? mb(gc.heapTotal) : '?'}, external ${gc ? mb(gc.external) : '?'}`,
      );
      if (o['trace-gc']) {
        const gcs = Object.entries(gcCounts(join(tmp, `hop${i}.out`)));
        log(`  GCs: ${gcs.map(([k, g]) => `${g.n} ${k} (${g.totalMs.toFixed(0)} ms in all, longest ${g.maxMs.toFixed(1)} ms)`).join(', ')}`);
      }
    });
  } finally {
    await procs.stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
