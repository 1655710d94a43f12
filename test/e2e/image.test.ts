// The mesh image builds without a registry, runs meshctl and the sample app,
// and ensureImage() rebuilds only when the package changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, ImageLabels } from '../../src/cli/image/build-image.ts';
import { ensureImage, imageLabels } from '../../src/cli/image/ensure-image.ts';
import { MESH_VERSION, PACKAGE_ROOT } from '../../src/cli/image/mesh-version.ts';
import { eventually } from '../harness/eventually.ts';

const docker = (...args: string[]) => spawnSync('docker', args, { encoding: 'utf8' });
const engine = docker('info', '-f', '{{.ServerVersion}}').status === 0;

test('offline build: docker import of the local Node + package, labelled, runnable', { skip: !engine && 'no Docker engine' }, async (t) => {
  const tag = `mesh-e2e-${randomBytes(4).toString('hex')}:test`;
  t.after(() => docker('image', 'rm', '-f', tag));
  const lines: string[] = [];
  const r = await buildImage({ tag, offline: true, log: (l) => lines.push(l) });
  assert.equal(r.mode, 'offline');
  assert.match(lines.join('\n'), /offline: --offline was given/);

  const run = docker('run', '--rm', tag, '--version');
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), MESH_VERSION);

  const labels = imageLabels(tag)!;
  assert.equal(labels[ImageLabels.version], MESH_VERSION);
  assert.equal(labels[ImageLabels.hash], r.hash);
  assert.equal(labels[ImageLabels.build], 'offline');

  // Small: no devDependencies, tests or bench in /app.
  const ls = docker('run', '--rm', '--entrypoint', '/usr/local/bin/node', tag, '-e', "const fs=require('fs');console.log(JSON.stringify({nm:fs.readdirSync('/app/node_modules'),top:fs.readdirSync('/app')}))");
  assert.equal(ls.status, 0, ls.stderr);
  const { nm, top } = JSON.parse(ls.stdout) as { nm: string[]; top: string[] };
  assert.ok(nm.includes('commander') && nm.includes('yaml') && nm.includes('zod'));
  for (const dev of ['typescript', 'fast-check', 'http-proxy', 'ws', '@types']) assert.ok(!nm.includes(dev), `${dev} is a devDependency`);
  // Compiled JavaScript, not the TypeScript sources; and the static healthcheck probe beside node.
  assert.deepEqual(top.sort(), ['dist', 'node_modules', 'package.json']);
  const probe = docker('run', '--rm', '--entrypoint', '/usr/local/bin/mesh-ready', tag, '1', '/ready');
  assert.equal(probe.status, 1, 'mesh-ready runs in the image and says "not ready" when nothing listens');

  // Same package: no rebuild. (Only a file changed meanwhile, e.g. by an editor, may rebuild, with a new hash.)
  const again = await ensureImage({ tag });
  if (again.built) assert.notEqual(again.hash, r.hash, 'rebuilt although the package did not change');
  else assert.equal(again.hash, r.hash);

  // A changed package (one more source file): rebuilt, with another hash.
  const copy = mkdtempSync(join(tmpdir(), 'mesh-pkg-'));
  t.after(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(join(PACKAGE_ROOT, 'src'), join(copy, 'src'), { recursive: true });
  cpSync(join(PACKAGE_ROOT, 'package.json'), join(copy, 'package.json'));
  symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(copy, 'node_modules'));
  writeFileSync(join(copy, 'src', 'changed.ts'), 'export const changed = true;\n');
  const changed = await ensureImage({ tag, packageRoot: copy, offline: true });
  assert.equal(changed.built, true);
  assert.notEqual(changed.hash, again.hash);
  assert.equal(imageLabels(tag)![ImageLabels.hash], changed.hash);
});

test('ensureImage() builds a missing image (mode chosen and said), and the sample app answers from it', { skip: !engine && 'no Docker engine' }, async (t) => {
  const tag = `mesh-e2e-${randomBytes(4).toString('hex')}:test`;
  const name = `mesh-e2e-sample-${randomBytes(4).toString('hex')}`;
  // The container first, then its image (an image in use is only untagged).
  t.after(() => {
    docker('rm', '-f', name);
    docker('image', 'rm', '-f', tag);
  });
  const lines: string[] = [];
  const r = await ensureImage({ tag, log: (l) => lines.push(l) });
  assert.equal(r.built, true);
  assert.match(lines.join('\n'), /not in the engine; building it/);
  assert.match(lines.join('\n'), /building .* \((offline|dockerfile): .+\)/);

  const started = docker('run', '-d', '--name', name, '-p', '127.0.0.1::8080', tag, 'sample-app', '--port', '8080', '--name', 'payments', '--version-label', 'v2');
  assert.equal(started.status, 0, started.stderr);
  const port = docker('port', name, '8080/tcp').stdout.trim().split(':').at(-1);
  const body = await eventually(async () => (await (await fetch(`http://127.0.0.1:${port}/hello`)).json()) as Record<string, string>, { timeoutMs: 15_000, intervalMs: 100 });
  assert.equal(body.service, 'payments');
  assert.equal(body.version, 'v2');
  assert.equal((await fetch(`http://127.0.0.1:${port}/fail?rate=1`)).status, 500);
  assert.equal((await fetch(`http://127.0.0.1:${port}/fail?rate=0`)).status, 200);
  // The app's log goes to the container's stdout, as `docker compose logs` expects.
  assert.match(docker('logs', name).stdout, /sample-app listening on :8080/);
});

test('Dockerfile build: FROM the base image when the engine has it (a local stand-in for node:24-slim here)', { skip: !engine && 'no Docker engine' }, async (t) => {
  const id = randomBytes(4).toString('hex');
  const base = `mesh-e2e-base-${id}:24-slim`;
  const tag = `mesh-e2e-${id}:dockerfile`;
  t.after(() => {
    docker('image', 'rm', '-f', tag);
    docker('image', 'rm', '-f', base);
  });
  // The offline image has node at /usr/local/bin/node, as the official image does.
  await buildImage({ tag: base, offline: true });
  const lines: string[] = [];
  const r = await buildImage({ tag, baseImage: base, log: (l) => lines.push(l) });
  assert.equal(r.mode, 'dockerfile');
  assert.match(lines.join('\n'), /dockerfile: .* is already in the engine/);
  const run = docker('run', '--rm', tag, '--version');
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), MESH_VERSION);
  assert.equal(imageLabels(tag)![ImageLabels.build], 'dockerfile');
  // The Dockerfile copies the static probe in too (exit 1: it ran, nothing listens; 127 would be "not found").
  assert.equal(docker('run', '--rm', '--entrypoint', '/usr/local/bin/mesh-ready', tag, '1').status, 1);
});
