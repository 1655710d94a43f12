// The shop example as a throwaway compose project for end-to-end tests: a
// copy in a temp folder, its own project name, image tag and free web port;
// `up()` runs `meshctl up` as a user would, `down()` removes everything it
// made (by label too, so a failed run leaves nothing behind).
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCompose } from '../../src/cli/compose/compose-cli.ts';
import { ensureImage } from '../../src/cli/image/ensure-image.ts';
import { freePort } from '../../src/cli/up/host-ports.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');

export const docker = (...args: string[]) => spawnSync('docker', args, { encoding: 'utf8', timeout: 60_000 });

/**
 * `docker` without blocking the event loop: for calls made while a test's own
 * load generator runs in the same process. A blocked loop lets the generator's
 * timeouts fire before it reads responses that did arrive (a `docker exec`
 * takes seconds on a loaded machine).
 */
export const dockerAsync = (...args: string[]) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile('docker', args, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });

/** The reason to skip, or false when a Docker engine and compose are there. */
export const skipWithoutDocker = (docker('info', '-f', '{{.ServerVersion}}').status !== 0 || !findCompose()) && 'needs a Docker engine and compose';

/** `env` goes to every meshctl run, e.g. MESH_COMPOSE=v1 to drive compose v1 where v2 is installed too. */
export function shopProject(name: string, env: Record<string, string> = {}) {
  const run = randomBytes(3).toString('hex');
  const project = `${name}${run}`;
  const image = `mesh:${name}-${run}`;
  const dir = mkdtempSync(join(tmpdir(), `meshctl-${name}-`));
  const byLabel = (kind: 'ps' | 'network', ...extra: string[]) =>
    docker(...(kind === 'ps' ? ['ps', '-aq'] : ['network', 'ls', '-q']), '--filter', `label=com.docker.compose.project=${project}`, ...extra).stdout.split('\n').filter(Boolean);

  const shop = {
    project,
    image,
    dir,
    webPort: 0,
    /** meshctl as a user runs it, from the project folder. */
    meshctl(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
      return new Promise((resolve) => {
        const child = spawn(process.execPath, [MAIN, ...args], { cwd: dir, env: { ...process.env, NO_COLOR: '1', ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    },
    /** Copies the example, builds the image once, runs `meshctl up`; resolves with its exit and how long it took. */
    async up() {
      cpSync(join(ROOT, 'examples/shop'), dir, { recursive: true, filter: (src) => !src.includes('/.mesh') });
      await ensureImage({ tag: image });
      shop.webPort = await freePort();
      const t0 = Date.now();
      const r = await shop.meshctl(['up', '-p', project, '--image', image, '--no-build', '--timeout', '120s', '--json'], { SHOP_PORT: String(shop.webPort) });
      return { ...r, seconds: (Date.now() - t0) / 1000 };
    },
    /** `meshctl status --json` lists the shop's five services and every proxy connected and in sync; returns the status. */
    async assertAllInSync(): Promise<ReturnType<typeof JSON.parse>> {
      const status = await shop.meshctl(['status', '--json']);
      assert.equal(status.code, 0, status.stderr);
      const s = JSON.parse(status.stdout);
      assert.deepEqual(
        s.services.map((x: { name: string }) => x.name),
        ['inventory', 'order', 'payment', 'product', 'web'],
      );
      assert.equal(s.proxies.length, 5);
      for (const p of s.proxies) assert.ok(p.connected && p.inSync, `${p.service} in sync`);
      return s;
    },
    async down() {
      await shop.meshctl(['down', '-v']);
      const left = byLabel('ps');
      if (left.length) docker('rm', '-f', ...left);
      const nets = byLabel('network');
      if (nets.length) docker('network', 'rm', ...nets);
      docker('image', 'rm', '-f', image);
      rmSync(dir, { recursive: true, force: true });
    },
    /** Running containers of the project, optionally narrowed by labels (`key=value`). */
    containers: (...labels: string[]) =>
      docker('ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, ...labels.flatMap((l) => ['--filter', `label=${l}`])).stdout.split('\n').filter(Boolean),
  };
  return shop;
}
