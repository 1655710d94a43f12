// `meshctl up` on a project with no mesh.config.ts and a service whose port
// is written nowhere: the mesh still converges, `meshctl status` names that
// service and how to declare its ports, and a second `up` with nothing
// changed recreates no container.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCompose } from '../../src/cli/compose/compose-cli.ts';
import { ensureImage } from '../../src/cli/image/ensure-image.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const docker = (...args: string[]) => spawnSync('docker', args, { encoding: 'utf8', timeout: 60_000 });
const engine = docker('info', '-f', '{{.ServerVersion}}').status === 0;

function meshctl(cwd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('unknown ports are named by status with the fix; up again recreates nothing', { skip: (!engine || !findCompose()) && 'needs a Docker engine and compose' }, async (t) => {
  const run = randomBytes(3).toString('hex');
  const project = `upports${run}`;
  const image = `mesh:up-ports-${run}`;
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-up-ports-'));
  t.after(async () => {
    await meshctl(dir, ['down', '-v']);
    const left = docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`).stdout.split('\n').filter(Boolean);
    if (left.length) docker('rm', '-f', ...left);
    docker('image', 'rm', '-f', image);
    rmSync(dir, { recursive: true, force: true });
  });
  await ensureImage({ tag: image });
  // `mystery` listens on 9000 but neither the file nor a config says so; `known` declares `expose`.
  writeFileSync(
    join(dir, 'compose.yaml'),
    `services:
  mystery:
    image: ${image}
    command: [sample-app, --port, "9000", --name, mystery]
  known:
    image: ${image}
    command: [sample-app, --port, "8080", --name, known]
    expose: ["8080"]
`,
  );
  const up = await meshctl(dir, ['up', '-p', project, '--image', image, '--no-build', '--json']);
  assert.equal(up.code, 0, up.stderr);
  const ids = () => docker('ps', '-q', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`).stdout.split('\n').filter(Boolean).sort();
  const first = ids();
  assert.equal(first.length, 5, 'two apps, two sidecars, the controller');

  const status = await meshctl(dir, ['status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout);
  assert.deepEqual(s.portsUnknown.map((u: { service: string }) => u.service), ['mystery']);
  assert.match(s.portsUnknown[0].fix, /mesh\.config\.ts.*mystery: \{ ports: \[/);
  assert.deepEqual(s.services.find((x: { name: string }) => x.name === 'known').ports, [8080]);
  const text = await meshctl(dir, ['status']);
  assert.match(text.stdout, /warning: mystery: no listening port learned/);

  const again = await meshctl(dir, ['up', '-p', project, '--image', image, '--no-build']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(ids(), first, 'no container was recreated');
});
