// One scenario from start to stop: build the chain of hops in front of the
// upstream, check one request, then measure idle RSS, the fixed-rate run
// (latency, CPU, RSS peak) and the max-throughput run (req/s, CPU), in that
// order so the max run's heap growth does not show up as "RSS at 1k req/s".
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import type { ProcessGroup, Started } from './lib/process-group.ts';
import { httpGet } from './lib/net.ts';
import { cpuSeconds, rssSplit, RssSampler } from './lib/proc-stats.ts';
import { runOpenLoop, type OpenLoopResult } from './lib/open-loop.ts';
import { runMax, type MaxResult } from './lib/max-throughput.ts';
import { hopKinds } from './hops/hop-kinds.ts';
import { HopUnavailable, type Address, type StartedHop } from './hops/hop.ts';
import type { Scenario } from './scenarios.ts';
import type { BenchOptions } from './options.ts';
import type { Upstream } from './upstream/start-upstream.ts';

const MB = 1024 * 1024;

export interface ProcFigures {
  name: string;
  pid: number;
  rssIdleMB?: number;
  rssFixedPeakMB?: number;
  /** The same RSS figures split: anonymous pages (the process's own heap and buffers) and file-backed pages (the node binary's code, shared between processes). */
  rssIdleAnonMB?: number;
  rssIdleFileMB?: number;
  rssFixedPeakAnonMB?: number;
  rssFixedPeakFileMB?: number;
  cpuPer1kFixed?: number;
  cpuPer1kMax?: number;
  /** CPU seconds per wall second during the max run: near 1.0 means this process was the bottleneck. */
  cpuBusyMax?: number;
}

export interface ScenarioResult {
  id: string;
  label: string;
  status: 'ok' | 'unavailable' | 'failed';
  reason?: string;
  hops: string[];
  procs: ProcFigures[];
  upstream?: { cpuPer1kMax?: number; cpuBusyMax?: number };
  fixed?: OpenLoopResult;
  max?: MaxResult;
  /**
   * Max-run requests per CPU-second of the busiest hop: what one event loop of
   * this proxy would carry if it had a core to itself. Unlike req/s, it does
   * not depend on how the load generator, the upstream and the hops share the
   * machine's cores.
   */
  perCoreRps?: number;
}

/** A hop that died mid-run makes the scenario fail with its last words, not with an ENOENT from /proc. */
function assertAlive(procList: Started[]): void {
  for (const p of procList) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      throw new Error(`${p.name} exited during the run (${p.child.exitCode ?? p.child.signalCode}): ${p.tail().slice(-300) || '(no output)'}`);
    }
  }
}

/**
 * For the tools that study one chain (profile-proxy.ts, memory-curve.ts): starts it, checks that one request
 * gets through, and lets it settle a second; its URL, hops and their pids.
 */
export async function startCheckedChain(s: Scenario, upstream: Address, procs: ProcessGroup, tmpDir: string): Promise<{ url: string; hops: StartedHop[]; pids: number[] }> {
  const chain = await buildChain(s, upstream, procs, tmpDir);
  const url = `http://${chain.entry.host}:${chain.entry.port}/`;
  const smoke = await httpGet(url);
  if (smoke.status !== 200) throw new Error(`smoke request: ${smoke.status}`);
  await sleep(1000);
  return { url, hops: chain.hops, pids: chain.hops.map((h) => h.process.pid) };
}

/** Start the hops from the upstream outwards; each one forwards to the one started before it. */
export async function buildChain(s: Scenario, upstream: Address, procs: ProcessGroup, tmpDir: string): Promise<{ entry: Address; hops: StartedHop[] }> {
  const hops: StartedHop[] = [];
  let target = upstream;
  for (let index = s.hops.length - 1; index >= 0; index--) {
    const spec = s.hops[index]!;
    const hop = await hopKinds[spec.kind]({ procs, tmpDir, target, index, count: s.hops.length, spec });
    hops.unshift(hop);
    target = hop.listen;
  }
  return { entry: target, hops };
}

export async function runScenario(s: Scenario, o: BenchOptions, upstream: Upstream, procs: ProcessGroup, tmpDir: string): Promise<ScenarioResult> {
  const result: ScenarioResult = { id: s.id, label: s.label, status: 'ok', hops: s.hops.map((h) => h.kind), procs: [] };
  const mark = procs.mark();
  try {
    const chain = await buildChain(s, upstream.address, procs, tmpDir);
    const hops = chain.hops;
    const url = `http://${chain.entry.host}:${chain.entry.port}/`;
    const smoke = await httpGet(url);
    if (smoke.status !== 200 || smoke.body.length !== o.bodyBytes) {
      throw new Error(`smoke request through the chain: status ${smoke.status}, ${smoke.body.length} bytes (want 200, ${o.bodyBytes})`);
    }
    const procList: Started[] = hops.map((h) => h.process);
    result.procs = procList.map((p) => ({ name: p.name, pid: p.pid }));

    // Idle means settled: a meshctl sidecar hands back its start-up heap 1 s after its first snapshot
    // (src/proxy/shrink-heap-after-start.ts); read after that, as a sidecar in a mesh idles.
    await sleep(2_000);
    procList.forEach((p, i) => {
      const idle = rssSplit(p.pid);
      Object.assign(result.procs[i]!, { rssIdleMB: idle.rss / MB, rssIdleAnonMB: idle.anon / MB, rssIdleFileMB: idle.file / MB });
    });

    await runOpenLoop({ url, rate: o.rate, connections: o.fixedConnections, durationMs: o.warmupMs });
    assertAlive(procList);

    // Fixed rate: latency, CPU per request, RSS peak.
    const sampler = new RssSampler(procList.map((p) => p.pid));
    let cpu0 = procList.map((p) => cpuSeconds(p.pid));
    result.fixed = await runOpenLoop({ url, rate: o.rate, connections: o.fixedConnections, durationMs: o.latencyMs, expectBytes: o.bodyBytes });
    assertAlive(procList);
    let cpu1 = procList.map((p) => cpuSeconds(p.pid));
    const peaks = sampler.stop();
    const done = result.fixed.ok + result.fixed.errors;
    procList.forEach((p, i) => {
      const peak = peaks.get(p.pid);
      Object.assign(result.procs[i]!, { rssFixedPeakMB: (peak?.rss ?? NaN) / MB, rssFixedPeakAnonMB: (peak?.anon ?? NaN) / MB, rssFixedPeakFileMB: (peak?.file ?? NaN) / MB });
      result.procs[i]!.cpuPer1kFixed = ((cpu1[i]! - cpu0[i]!) / done) * 1000;
    });

    // Max throughput, after a short closed-loop warm-up that opens the pools' connections.
    const maxOpts = { url, connections: o.maxConnections, threads: o.threads, loadgen: o.loadgen };
    if (!o.quick) await runMax({ ...maxOpts, durationMs: 1000 }, procs);
    const upCpu0 = cpuSeconds(upstream.process.pid);
    cpu0 = procList.map((p) => cpuSeconds(p.pid));
    const t0 = performance.now();
    result.max = await runMax({ ...maxOpts, durationMs: o.durationMs }, procs);
    const seconds = (performance.now() - t0) / 1000; // the window the CPU readings span
    assertAlive(procList);
    cpu1 = procList.map((p) => cpuSeconds(p.pid));
    const upCpu1 = cpuSeconds(upstream.process.pid);
    const { requests } = result.max;
    procList.forEach((_p, i) => {
      result.procs[i]!.cpuPer1kMax = ((cpu1[i]! - cpu0[i]!) / requests) * 1000;
      result.procs[i]!.cpuBusyMax = (cpu1[i]! - cpu0[i]!) / seconds;
    });
    const busiest = Math.max(...cpu1.map((c, i) => c - cpu0[i]!));
    if (busiest > 0) result.perCoreRps = requests / busiest;
    result.upstream = { cpuPer1kMax: ((upCpu1 - upCpu0) / requests) * 1000, cpuBusyMax: (upCpu1 - upCpu0) / seconds };
  } catch (err) {
    result.status = err instanceof HopUnavailable ? 'unavailable' : 'failed';
    result.reason = (err as Error).message;
  } finally {
    // Also stops a hop whose start failed half-way.
    await procs.stopSince(mark);
  }
  return result;
}
