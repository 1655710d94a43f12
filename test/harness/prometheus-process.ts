// A real Prometheus (Debian's /usr/bin/prometheus) on loopback for tests: a
// generated config with static targets per job, a short scrape interval, its
// own data dir; stopped and removed in t.after. PromQL over the HTTP API.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../src/cli/up/host-ports.ts';
import { eventually } from './eventually.ts';

type T = { after(fn: () => Promise<void> | void): void };

export const PROMETHEUS_BIN = process.env.MESH_TEST_PROMETHEUS ?? 'prometheus';

export function hasPrometheus(): boolean {
  return spawnSync(PROMETHEUS_BIN, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** `promtool check metrics`: Prometheus' own linter for exposition text (naming conventions included). */
export function promtoolCheckMetrics(text: string): { ok: boolean; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

export type PromResult = { metric: Record<string, string>; value: [number, string] }[];

/** A job's targets: static URLs, or an http_sd URL (the controller's GET /v1/metrics/targets). */
export type Job = string[] | { httpSd: string };

export async function startPrometheus(t: T, jobs: Record<string, Job>, { scrapeInterval = '1s' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-prom-'));
  const config = {
    global: { scrape_interval: scrapeInterval, scrape_timeout: scrapeInterval, evaluation_interval: scrapeInterval },
    scrape_configs: Object.entries(jobs).map(([job, j]) =>
      Array.isArray(j)
        ? { job_name: job, static_configs: [{ targets: j.map((u) => new URL(u).host) }] }
        : { job_name: job, http_sd_configs: [{ url: j.httpSd, refresh_interval: scrapeInterval }] },
    ),
  };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const child = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${stderr}`);
      const r = await fetch(`${url}/-/ready`);
      if (!r.ok) throw new Error(`not ready: ${r.status}`);
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );

  async function api(path: string, params: Record<string, string>): Promise<any> {
    const r = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
    const body = (await r.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  }
  return {
    url,
    /** Instant query; the vector result. */
    async query(promql: string): Promise<PromResult> {
      const data = await api('/api/v1/query', { query: promql });
      return data.result as PromResult;
    },
    /** Health of every active target (job, instance, health, lastError). */
    async targets(): Promise<{ job: string; instance: string; health: string; lastError: string; labels: Record<string, string> }[]> {
      const data = await api('/api/v1/targets', { state: 'active' });
      return data.activeTargets.map((a: any) => ({ job: a.labels.job, instance: a.labels.instance, health: a.health, lastError: a.lastError, labels: a.labels }));
    },
    stderr: () => stderr,
  };
}
