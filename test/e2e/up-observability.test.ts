// `meshctl up --observability` on real Docker with no registry: Prometheus
// from an image built offline (Debian's binary, `docker import`) runs in the
// project and scrapes the controller and, through the controller's http_sd
// endpoint, the sidecar; Grafana and Jaeger, whose images cannot be had, are
// left out with a warning naming them, and `up` still succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCompose } from '../../src/cli/compose/compose-cli.ts';
import { ensureImage } from '../../src/cli/image/ensure-image.ts';
import { eventually } from '../harness/eventually.ts';
import { hasPrometheus } from '../harness/prometheus-process.ts';
import { buildOfflinePrometheusImage } from '../harness/offline-prometheus-image.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const docker = (...args: string[]) => spawnSync('docker', args, { encoding: 'utf8', timeout: 60_000 });
const engine = docker('info', '-f', '{{.ServerVersion}}').status === 0;
const skip = (!engine || !findCompose()) ? 'needs a Docker engine and compose' : !process.env.CI && !hasPrometheus() ? 'prometheus is not installed (apt-get install prometheus)' : false;

function meshctl(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('up --observability: Prometheus scrapes the mesh in the project; images that cannot be had are named and skipped', { skip, timeout: 300_000 }, async (t) => {
  const run = randomBytes(3).toString('hex');
  const project = `upobs${run}`;
  const image = `mesh:up-obs-${run}`;
  const promImage = `meshctl-test/prometheus:${run}`;
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-up-obs-'));
  // .invalid never resolves: these two can be neither found locally nor pulled, on any machine.
  const env = { MESH_PROMETHEUS_IMAGE: promImage, MESH_GRAFANA_IMAGE: `meshctl-test.invalid/grafana:${run}`, MESH_JAEGER_IMAGE: `meshctl-test.invalid/jaeger:${run}` };
  t.after(async () => {
    await meshctl(dir, ['down', '-v'], env);
    const left = docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`).stdout.split('\n').filter(Boolean);
    if (left.length) docker('rm', '-f', ...left);
    docker('image', 'rm', '-f', image, promImage);
    rmSync(dir, { recursive: true, force: true });
  });
  await ensureImage({ tag: image });
  buildOfflinePrometheusImage(promImage);
  writeFileSync(join(dir, 'compose.yaml'), `services:\n  api:\n    image: ${image}\n    command: [sample-app, --port, "9000", --name, api]\n    expose: ["9000"]\n`);

  const up = await meshctl(dir, ['up', '--observability', '-p', project, '--image', image, '--no-build', '--timeout', '180s', '--json'], env);
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stderr, /warning: --observability: leaving out Grafana, Jaeger/);
  assert.ok(up.stderr.includes(env.MESH_GRAFANA_IMAGE) && up.stderr.includes(env.MESH_JAEGER_IMAGE), up.stderr);
  assert.match(up.stderr, /docker pull <image>/);
  assert.match(up.stderr, /observability: Prometheus http:\/\/127\.0\.0\.1:\d+/);
  const services = docker('ps', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}}').stdout.split('\n').filter(Boolean).sort();
  assert.ok(services.includes('mesh-prometheus'), services.join(', '));
  assert.ok(!services.includes('mesh-grafana') && !services.includes('mesh-jaeger'), services.join(', '));

  const port = JSON.parse(readFileSync(join(dir, '.mesh/observability/ports.json'), 'utf8')).prometheus as number;
  const prom = async (path: string) => {
    const body = (await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as { status: string; data: any };
    assert.equal(body.status, 'success');
    return body.data;
  };
  // The controller by name, the sidecar through http_sd, both up.
  await eventually(
    async () => {
      const targets = (await prom('/api/v1/targets?state=active')).activeTargets as { labels: Record<string, string>; health: string; lastError: string }[];
      const byJob = Object.fromEntries(targets.map((x) => [x.labels.job === 'mesh-sidecars' ? `sidecar ${x.labels.mesh_service}` : x.labels.job, `${x.health} ${x.lastError}`.trim()]));
      assert.deepEqual(byJob, { 'mesh-controller': 'up', 'sidecar api': 'up' });
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  await eventually(
    async () => {
      const r = (await prom(`/api/v1/query?query=${encodeURIComponent('mesh_controller_proxies{state="in_sync"}')}`)).result;
      assert.equal(r[0]?.value[1], '1', JSON.stringify(r));
      const snap = (await prom(`/api/v1/query?query=${encodeURIComponent('mesh_snapshot_version{mesh_service="api"}')}`)).result;
      assert.equal(snap.length, 1, JSON.stringify(snap));
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  );
});
