// Where a meshctl hop spends its CPU per request, measured in a way that does
// not depend on how busy the machine is: CPU seconds from /proc and V8 CPU
// profile self-time divided by the requests served, GC counts and bytes
// allocated per request from --trace-gc, and RSS idle and after the load. Wall-clock req/s is printed but is noise
// on a shared machine; the per-request figures are what to compare.
//
//   node bench/profile-proxy.ts                     # 2 hops (mesh path), HTTP, wrk -c16 for 8 s
//   node bench/profile-proxy.ts --hops 1 --tcp      # opaque TCP through one hop
//   node bench/profile-proxy.ts --scenario cp       # a meshctl scenario's chain from scenarios.ts (cp, cm, f, ...)
//   node bench/profile-proxy.ts --rate 1000         # open loop at 1,000 req/s instead of closed loop
//   node bench/profile-proxy.ts --requests 50000    # exactly that many requests: allocation per request is exact
//   node bench/profile-proxy.ts --node-args="--max-semi-space-size=4"  # V8 flags for the hops
//   node bench/profile-proxy.ts --meshctl build     # compiled JS of the current source (as in a container)
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProcessGroup } from './lib/process-group.ts';
import { startUpstream } from './upstream/start-upstream.ts';
import { startCheckedChain } from './run-scenario.ts';
import { meshctlEntries, meshctlSettings } from './hops/meshctl.ts';
import { buildMeshctl } from './hops/build-meshctl.ts';
import { cpuSeconds, rssBytes } from './lib/proc-stats.ts';
import { runMax } from './lib/max-throughput.ts';
import { runOpenLoop } from './lib/open-loop.ts';
import type { HopSpec } from './hops/hop.ts';
import { meshctlScenario } from './scenarios.ts';
import { Pool } from 'undici';

const { values: o } = parseArgs({
  options: {
    hops: { type: 'string', default: '2' },
    scenario: { type: 'string' },
    tcp: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '16' },
    rate: { type: 'string' },
    requests: { type: 'string' },
    'node-args': { type: 'string', default: '' },
    prof: { type: 'boolean', default: true },
    top: { type: 'string', default: '25' },
    meshctl: { type: 'string', default: 'src' },
    upstream: { type: 'string', default: 'haproxy' },
    strace: { type: 'boolean', default: false },
    'access-log': { type: 'boolean', default: false },
  },
  allowNegative: true,
});

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time (µs) per function within [fromUs, toUs] of the monotonic clock. */
function selfTimes(p: CpuProfile, fromUs: number, toUs: number): { byFn: Map<string, number>; totalUs: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const byFn = new Map<string, number>();
  let t = p.startTime;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    if (t < fromUs || t > toUs) continue;
    // A sample's time is the delta to the next sample.
    const dt = p.timeDeltas[i + 1] ?? 0;
    const n = byId.get(p.samples[i]!)!;
    const f = n.callFrame;
    const where = f.url ? `${f.url.replace(/^file:\/\/.*?\/(src|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    byFn.set(key, (byFn.get(key) ?? 0) + dt);
    total += dt;
  }
  return { byFn, totalUs: total };
}

/** Kernel CPU seconds (field 15 of /proc/<pid>/stat, 100 ticks per second). */
function sysSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[12]) / 100;
}

function category(key: string): string {
  if (key.startsWith('(idle)')) return 'idle';
  if (key.startsWith('(garbage collector)')) return 'gc';
  if (key.startsWith('(program)')) return 'program (native, syscalls)';
  if (key.includes('src/proxy/')) return 'meshctl src/proxy';
  if (key.includes('node_modules/undici')) return 'undici';
  if (key.includes('node:')) return 'node core (js)';
  return 'other (native builtins)';
}

interface GcStats {
  lines: number;
  scavenges: number;
  markCompacts: number;
  /** Heap growth between collections, summed: what the process allocated (MB), young and old. */
  allocatedMB: number;
  pauseMs: number;
}

/** Reads --trace-gc lines from `fromLine` on: "Scavenge 10.1 (13.3) -> 9.2 (14.3) MB, pooled: 0 MB, 1.23 / 0.00 ms". */
function gcStats(file: string, fromLine = 0): GcStats {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // no output yet
  }
  const lines = text.split('\n');
  const st: GcStats = { lines: lines.length, scavenges: 0, markCompacts: 0, allocatedMB: 0, pauseMs: 0 };
  let prevAfter: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const m = /: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Sweep)[^\d]*([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB(?:, pooled: [\d.]+ MB)?, ([\d.]+) \/ ([\d.]+) ms/.exec(lines[i]!);
    if (!m) continue;
    const before = Number(m[2]);
    const after = Number(m[4]);
    if (i >= fromLine) {
      if (m[1] === 'Scavenge' || m[1] === 'Minor Mark-Sweep') st.scavenges++;
      else st.markCompacts++;
      if (prevAfter !== undefined) st.allocatedMB += Math.max(0, before - prevAfter);
      st.pauseMs += Number(m[6]);
    }
    prevAfter = after;
  }
  return st;
}

/** Exactly `n` GET requests over `connections` keep-alive connections (undici in this process): a fixed amount of work, so allocation per request does not depend on run time. */
async function fixedCount(url: string, n: number, connections: number): Promise<number> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections, pipelining: 1 });
  let left = n;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (left > 0) {
      left--;
      const r = await pool.request({ path: u.pathname, method: 'GET' });
      await r.body.dump();
      if (r.statusCode === 200) done++;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  await pool.close();
  return done;
}

async function main(): Promise<void> {
  const hopsN = Number(o.hops);
  const tmp = mkdtempSync(join(tmpdir(), 'meshctl-prof-'));
  const profDir = join(tmp, 'prof');
  meshctlSettings.entry = o.meshctl === 'src' || o.meshctl === 'dist' ? meshctlEntries[o.meshctl] : o.meshctl === 'build' ? buildMeshctl((s) => process.stderr.write(`${s}\n`)) : o.meshctl;
  meshctlSettings.nodeArgs = [...(o.prof ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=250'] : []), '--trace-gc', ...o['node-args'].split(' ').filter(Boolean)];
  meshctlSettings.stdoutFile = (i) => join(tmp, `hop${i}.out`);
  meshctlSettings.accessLog = o['access-log'];
  const procs = new ProcessGroup();
  const upstream = await startUpstream(o.upstream as 'haproxy' | 'node', procs, tmp, 1024);
  const hop: HopSpec = { kind: o.tcp ? 'meshctl-tcp' : 'meshctl-http' };
  // --scenario takes a scenario's chain from scenarios.ts as it is (cp: policies on, cm: mTLS, f: TCP).
  const picked = meshctlScenario(o.scenario);
  const hops = picked?.hops ?? Array.from({ length: hopsN }, () => hop);
  const chain = await startCheckedChain({ id: 'prof', label: 'profile', hops }, upstream.address, procs, tmp);
  const { url, pids } = chain;
  const idleRss = pids.map((p) => rssBytes(p) / 2 ** 20);
  const seconds = Number(o.seconds);
  const connections = Number(o.connections);
  // One load shape for the warm-up and the measured run; `warm` is the short warm-up.
  const load = async (ms: number, warm = false) =>
    o.requests !== undefined
      ? await fixedCount(url, warm ? 5000 : Number(o.requests), connections)
      : o.rate !== undefined
      ? await runOpenLoop({ url, rate: Number(o.rate), connections: 8, durationMs: ms, expectBytes: 1024 }).then((r) => r.ok + r.errors)
      : (await runMax({ url, connections, threads: 1, durationMs: ms, loadgen: 'wrk' }, procs)).requests;
  await load(2000, true); // warm-up: JIT, pools
  const gc0 = chain.hops.map((_h, i) => gcStats(join(tmp, `hop${i}.out`)));
  const cpu0 = pids.map(cpuSeconds);
  const sys0 = pids.map(sysSeconds);
  // Syscalls per request (strace -c slows the hops: use its counts, not the CPU figures, of such a run).
  const straces = o.strace ? pids.map((pid, i) => procs.start(`strace ${i}`, 'strace', ['-c', '-f', '-p', String(pid), '-o', join(tmp, `strace${i}.txt`)])) : [];
  if (straces.length) await sleep(500);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const t0 = performance.now();
  const requests = await load(seconds * 1000);
  const wall = (performance.now() - t0) / 1000;
  const toUs = Number(process.hrtime.bigint() / 1000n);
  const cpu1 = pids.map(cpuSeconds);
  const sys1 = pids.map(sysSeconds);
  const gc1 = chain.hops.map((_h, i) => gcStats(join(tmp, `hop${i}.out`), gc0[i]!.lines - 1));
  const loadRss = pids.map((p) => rssBytes(p) / 2 ** 20);
  for (const s of straces) s.child.kill('SIGINT');
  await Promise.all(straces.map((s) => s.exited));
  for (const h of chain.hops) h.process.child.kill('SIGINT');
  await Promise.all(chain.hops.map((h) => h.process.exited));
  await procs.stopSince(0);

  const top = Number(o.top);
  const out: string[] = [];
  out.push(`${picked ? `scenario ${picked.id} (${picked.label})` : `${hopsN} hop(s), ${o.tcp ? 'opaque TCP' : 'HTTP/1.1'}`}, ${o.requests ? `${o.requests} requests over ${connections} connections` : o.rate ? `open loop ${o.rate} req/s` : `wrk -c${connections}`}, ${requests} requests in ${wall.toFixed(1)} s (${Math.round(requests / wall)} req/s, wall-clock: noise here)`);
  out.push(`node args: ${meshctlSettings.nodeArgs.filter((a) => !a.startsWith('--cpu-prof')).join(' ')}`);
  const profiles = o.prof ? readdirSync(profDir).map((f) => join(profDir, f)) : [];
  chain.hops.forEach((h, i) => {
    const cpuUs = ((cpu1[i]! - cpu0[i]!) / requests) * 1e6;
    const g = gc1[i]!;
    out.push('');
    out.push(`hop ${i} (pid ${h.process.pid}): CPU ${cpuUs.toFixed(1)} µs/request (/proc; kernel ${(((sys1[i]! - sys0[i]!) / requests) * 1e6).toFixed(1)}), RSS idle ${idleRss[i]!.toFixed(1)} MB, after load ${loadRss[i]!.toFixed(1)} MB`);
    out.push(`  GC during the run: ${g.scavenges} scavenges, ${g.markCompacts} mark-compacts, ${g.pauseMs.toFixed(0)} ms paused; allocated ≈ ${((g.allocatedMB * 2 ** 20) / requests / 1024).toFixed(2)} KB/request`);
    if (o.strace) {
      const lines = readFileSync(join(tmp, `strace${i}.txt`), 'utf8').split('\n');
      const rows = lines.filter((l) => /^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+/.test(l)).map((l) => l.trim().split(/\s+/));
      out.push(`  syscalls per request: ${rows.map((r) => `${r.at(-1)} ${(Number(r[3]) / requests).toFixed(2)}`).join(', ')}`);
    }
    const file = profiles.find((f) => f.includes(`.${h.process.pid}.`));
    if (!file) return;
    const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const { byFn, totalUs } = selfTimes(prof, fromUs, toUs);
    const cats = new Map<string, number>();
    for (const [k, v] of byFn) cats.set(category(k), (cats.get(category(k)) ?? 0) + v);
    const busy = totalUs - (cats.get('idle') ?? 0);
    out.push(`  profile: ${(busy / requests).toFixed(1)} µs/request busy (sampled), by category:`);
    for (const [c, v] of [...cats].sort((a, b) => b[1] - a[1])) if (c !== 'idle') out.push(`    ${(v / requests).toFixed(2).padStart(7)} µs  ${c}`);
    out.push(`  top ${top} functions by self time, µs/request:`);
    for (const [k, v] of [...byFn].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`    ${(v / requests).toFixed(2).padStart(7)}  ${k}`);
  });
  process.stdout.write(out.join('\n') + '\n');
  rmSync(tmp, { recursive: true, force: true });
}

await main();
