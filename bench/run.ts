// `npm run bench`: runs every scenario in one go on this machine and prints
// figures side by side (see bench/README.md). Never passes or fails on time;
// the exit code is non-zero only when the harness itself breaks.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { ProcessGroup } from './lib/process-group.ts';
import { wrkAvailable, WRK } from './lib/max-throughput.ts';
import { parseOptions, usage } from './options.ts';
import { scenarios, comparisons } from './scenarios.ts';
import { runScenario, type ScenarioResult } from './run-scenario.ts';
import { runDisconnectCheck, type DisconnectResult } from './disconnect-check.ts';
import { startUpstream } from './upstream/start-upstream.ts';
import { meshctlSettings, meshctlEntries, meshctlUnavailable } from './hops/meshctl.ts';
import { HAPROXY } from './hops/haproxy.ts';
import { buildMeshctl } from './hops/build-meshctl.ts';
import * as report from './report.ts';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(benchDir, '..');

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString().split('\n')[0]!.trim();
  } catch (err) {
    // wrk -v prints its version and exits 1
    const out = (err as { stdout?: Buffer }).stdout?.toString().split('\n')[0]?.trim();
    return out || 'not found';
  }
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2), { json: join(benchDir, 'results/latest.json'), loadgen: wrkAvailable() ? 'wrk' : 'undici' });
  if (parsed === 'help') {
    process.stdout.write(usage);
    return 0;
  }
  const o = parsed;
  meshctlSettings.accessLog = o.accessLog;
  meshctlSettings.nodeArgs = o.nodeArgs;
  meshctlSettings.entry =
    o.meshctlEntry === 'src' || o.meshctlEntry === 'dist' ? meshctlEntries[o.meshctlEntry] : o.meshctlEntry === 'build' ? buildMeshctl((s) => process.stderr.write(`${s}\n`)) : resolve(o.meshctlEntry);
  const known = scenarios.map((s) => s.id);
  const unknown = (o.only ?? []).filter((id) => !known.includes(id));
  if (unknown.length) throw new Error(`unknown scenario id ${unknown.join(', ')}; known: ${known.join(', ')}`);
  const selected = o.only ? scenarios.filter((s) => o.only!.includes(s.id)) : scenarios;
  if (o.loadgen === 'wrk' && !wrkAvailable()) throw new Error(`${WRK} not found; install wrk or pass --loadgen undici`);

  const machine = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
    loadavgAtStart: loadavg().map((l) => l.toFixed(2)).join(' '),
    haproxy: version(HAPROXY, ['-v']),
    wrk: o.loadgen === 'wrk' ? version(WRK, ['-v']) : 'not used',
  };
  const log = (s: string) => process.stderr.write(`${s}\n`);
  log(`meshctl bench: ${selected.map((s) => s.id).join(', ')}; warm-up ${o.warmupMs / 1000} s, latency run ${o.latencyMs / 1000} s, max run ${o.durationMs / 1000} s`);
  log(`machine: ${machine.cpus}, load average ${machine.loadavgAtStart}; figures are noisy if anything else uses the CPUs`);

  const procs = new ProcessGroup();
  const tmpDir = mkdtempSync(join(tmpdir(), 'meshctl-bench-'));
  // Also on Ctrl-C: the signal handlers in ProcessGroup end in process.exit().
  process.on('exit', () => rmSync(tmpDir, { recursive: true, force: true }));
  const results: ScenarioResult[] = [];
  const disconnects: DisconnectResult[] = [];
  try {
    const upstream = await startUpstream(o.upstream, procs, tmpDir, o.bodyBytes);
    for (const s of selected) {
      log(`(${s.id}) ${s.label} ...`);
      const r = await runScenario(s, o, upstream, procs, tmpDir);
      results.push(r);
      log(r.status === 'ok' ? `    ${r.max?.rps.toFixed(0)} req/s max; p50 ${r.fixed?.latency.p50.toFixed(3)} ms, p99 ${r.fixed?.latency.p99.toFixed(3)} ms at ${o.rate}/s` : `    ${r.status}: ${r.reason}`);
    }
    await procs.stop(upstream.process);

    const checks = selected.filter((s) => s.disconnectCheck && s.hops.length > 0);
    if (o.disconnect && checks.length) {
      const slow = await startUpstream('node', procs, tmpDir, o.bodyBytes);
      for (const s of checks) {
        log(`disconnect check (${s.id}) ${s.label} ...`);
        disconnects.push(await runDisconnectCheck(s, o.disconnectRequests, slow, procs, tmpDir));
      }
      await procs.stop(slow.process);
    }
  } finally {
    await procs.stopAll();
    rmSync(tmpDir, { recursive: true, force: true });
  }

  const byId = new Map(results.map((r) => [r.id, r]));
  const figures = report.evaluate(comparisons, byId);
  const sRows = report.scenarioRows(results);
  const cRows = report.comparisonRows(figures);
  const dRows = report.disconnectRows(disconnects);
  const settings =
    `latency run ${o.latencyMs / 1000} s after ${o.warmupMs / 1000} s warm-up, max-throughput run ${o.durationMs / 1000} s; upstream: ${o.upstream} answering ${o.bodyBytes} B; ` +
    `max throughput: ${o.loadgen}${o.loadgen === 'wrk' ? ` -t${o.threads}` : ''} with ${o.maxConnections} connections; ` +
    `latency: open loop at ${o.rate} req/s over ${o.fixedConnections} connections, measured from the scheduled send time; ` +
    `per-proxy figures are client-side hop first; meshctl run as node ${[...o.nodeArgs, relative(repoRoot, meshctlSettings.entry)].join(' ')}, access log ${o.accessLog ? 'on' : 'off'}`;
  const out: string[] = [];
  out.push('', `meshctl bench — ${machine.date}, node ${machine.node}, ${machine.cpus}, load average at start ${machine.loadavgAtStart}, at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  out.push(settings, '');
  out.push(report.textTable(report.scenarioHeader, sRows), '');
  out.push(report.textTable(report.comparisonHeader, cRows), '');
  if (dRows.length) out.push('Client disconnecting mid-response (Node upstream, endless /slow response):', report.textTable(report.disconnectHeader, dRows), '');
  const lags = results.filter((r) => r.fixed).map((r) => `${r.id} ${r.fixed!.sendLag.p50.toFixed(2)}/${r.fixed!.sendLag.p99.toFixed(2)}`);
  if (lags.length) out.push(`generator send lag p50/p99 ms (included in every latency above, so it cancels in (c)-(a)): ${lags.join(', ')}`);
  const stalled = results.filter((r) => (r.fixed?.sendLag.p99 ?? 0) > 1).map((r) => r.id);
  const stallWarning = stalled.length
    ? `warning: the generator itself was late by > 1 ms at p99 in ${stalled.join(', ')}: the CPUs were busy, so p99 figures there are noise; rerun on a quiet machine`
    : undefined;
  if (stallWarning) out.push(stallWarning);
  out.push('');
  out.push('Markdown (for bench/README.md):', '');
  out.push(`_${settings}. ${machine.cpus}, load average ${machine.loadavgAtStart} at start._`, '');
  out.push(report.markdownTable(report.scenarioHeader, sRows), '');
  out.push(report.markdownTable(report.comparisonHeader, cRows), '');
  if (dRows.length) out.push(report.markdownTable(report.disconnectHeader, dRows), '');
  if (stallWarning) out.push(`_${stallWarning}._`, '');
  process.stdout.write(out.join('\n') + '\n');

  mkdirSync(dirname(o.json), { recursive: true });
  writeFileSync(o.json, JSON.stringify({ machine, options: o, scenarios: results, comparisons: figures, disconnect: disconnects }, null, 2) + '\n');
  log(`results written to ${relative(process.cwd(), o.json) || o.json}`);
  const missing = meshctlUnavailable();
  if (missing) log(`note: ${missing}, so the meshctl scenarios could not run`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
  },
);
