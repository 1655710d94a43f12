// `meshctl up` stops before changing anything when the environment is not
// ready, and says what to do (exit 3): no engine, or a published port taken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCompose } from '../../src/cli/compose/compose-cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const engine = spawnSync('docker', ['info', '-f', '{{.ServerVersion}}'], { encoding: 'utf8' }).status === 0;

function meshctl(cwd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

function shopCopy(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-preflight-'));
  cpSync(join(ROOT, 'examples/shop'), dir, { recursive: true, filter: (src) => !src.includes('/.mesh') });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('with no Docker engine, up exits 3 naming the engine, and writes no compose file', async (t) => {
  const dir = shopCopy(t);
  const r = await meshctl(dir, ['up', '-p', `pre${randomBytes(3).toString('hex')}`], { DOCKER_HOST: `unix://${join(dir, 'no-such.sock')}` });
  assert.equal(r.code, 3, r.out);
  assert.match(r.out, /Docker engine cannot be reached/);
  assert.match(r.out, /MESH_ERR_DOCKER_UNAVAILABLE/);
  assert.equal(existsSync(join(dir, '.mesh', 'compose.yaml')), false);
});

test('a published port already taken: up exits 3 naming the port and service, and starts nothing', { skip: (!engine || !findCompose()) && 'needs a Docker engine and compose' }, async (t) => {
  const dir = shopCopy(t);
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '0.0.0.0', r));
  t.after(() => holder.close());
  const port = (holder.address() as { port: number }).port;
  const project = `pre${randomBytes(3).toString('hex')}`;
  const r = await meshctl(dir, ['up', '-p', project, '--no-build'], { SHOP_PORT: String(port) });
  assert.equal(r.code, 3, r.out);
  assert.match(r.out, new RegExp(`0\\.0\\.0\\.0:${port} \\(service web, container port 8080\\): EADDRINUSE`));
  assert.match(r.out, /MESH_ERR_PORT_IN_USE/);
  assert.equal(existsSync(join(dir, '.mesh', 'compose.yaml')), false, 'no generated file');
  const left = spawnSync('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`], { encoding: 'utf8' }).stdout.trim();
  assert.equal(left, '', 'no container created');
});
