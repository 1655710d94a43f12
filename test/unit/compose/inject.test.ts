import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENERATED_HEADER, inject } from '../../../src/cli/compose/inject.ts';
import { loadCompose, type LoaderChoice } from '../../../src/cli/compose/load-compose.ts';
import { findCompose } from '../../../src/cli/compose/compose-cli.ts';
import type { Obj } from '../../../src/cli/compose/compose-model.ts';
import { MeshError } from '../../../src/shared/errors.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'full');
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

function project(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-inject-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = join(dir, 'shop');
  cpSync(fixture, p, { recursive: true });
  return p;
}

const kept = ['image', 'build', 'volumes', 'environment', 'env_file', 'secrets', 'command', 'healthcheck', 'profiles', 'logging', 'working_dir', 'expose', 'deploy'];
const loaders: LoaderChoice[] = findCompose() ? ['yaml', 'compose'] : ['yaml'];

for (const loader of loaders) {
  test(`inject (${loader} loader): output under .mesh/, user files untouched, values and paths the same when read back`, async (t) => {
    const dir = project(t);
    const files = [join(dir, 'compose.yaml'), join(dir, 'override.yaml')];
    const before = files.map(sha);
    const r = await inject({ files, loader, inspectDocker: false });
    assert.equal(r.output, join(dir, '.mesh', 'compose.yaml'));
    assert.deepEqual(files.map(sha), before, 'user files are byte-for-byte unchanged');
    assert.equal(r.project, 'shop');
    assert.match(r.loader, loader === 'yaml' ? /^yaml/ : /config/);
    assert.deepEqual(r.meshed.slice().sort(), ['api', 'db', 'web']);
    assert.deepEqual(r.skipped.map((s) => s.service), ['tools']);
    // api's ports: expose + published + its build context's EXPOSE; db and web come from images only.
    assert.deepEqual(r.ports.api!.slice().sort(), ['3000/tcp']);
    assert.deepEqual(r.ports.db, []);
    const text = readFileSync(r.output, 'utf8');
    assert.ok(text.startsWith(GENERATED_HEADER));
    assert.match(text, /context: \.\.\/backend/, 'paths are relative to .mesh/');
    assert.match(text, /\$\$\{NOT_A_VAR\}/, 'literal $ is written escaped');

    // Read the generated file back the same way: every kept value is identical,
    // including `$` literals and paths (which now resolve from .mesh/).
    const back = await loadCompose([r.output], { loader, project: 'shop' });
    for (const [name, svc] of Object.entries(r.input.services)) {
      const out = back.model.services[name]!;
      for (const key of kept) assert.deepEqual(out[key], svc[key], `${name}.${key}`);
    }
    assert.deepEqual(back.model.secrets, r.input.secrets);
    const env = back.model.services.api!.environment as Obj;
    assert.equal(env.LITERAL, 'price: 5$ and ${NOT_A_VAR}');
    assert.deepEqual(back.model.services.api!.command, ['sh', '-c', 'echo $HOSTNAME && node server.js']);
    // Sidecars: ports moved, profiles inherited.
    assert.equal(back.model.services.web!.ports, undefined);
    assert.deepEqual(back.model.services['web-mesh']!.profiles, ['frontend']);
    assert.ok(back.model.services['web-mesh']!.ports);
    assert.deepEqual(back.model.services.tools, r.input.services.tools);
  });
}

test('a refusal writes nothing: no output, no temp file', async (t) => {
  const dir = project(t);
  writeFileSync(join(dir, 'clash.yaml'), 'services:\n  api:\n    image: a\n  api-mesh:\n    image: b\n');
  await assert.rejects(inject({ files: [join(dir, 'clash.yaml')], loader: 'yaml', inspectDocker: false }), (e: MeshError) => e.code === 'MESH_ERR_COMPOSE_UNSUPPORTED');
  assert.equal(existsSync(join(dir, '.mesh')), false);
});

test('an existing output is replaced whole; a file meshctl did not write is never overwritten', async (t) => {
  const dir = project(t);
  const files = [join(dir, 'compose.yaml')];
  const r1 = await inject({ files, loader: 'yaml', inspectDocker: false });
  const r2 = await inject({ files, loader: 'yaml', inspectDocker: false });
  assert.equal(readFileSync(r1.output, 'utf8'), readFileSync(r2.output, 'utf8'), 'same input, same output');
  assert.deepEqual(readdirSync(join(dir, '.mesh')), ['compose.yaml'], 'no temp files left behind');
  const named = await inject({ files, output: 'other.yaml', loader: 'yaml', inspectDocker: false });
  assert.equal(named.output, join(dir, '.mesh', 'other.yaml'), 'a bare -o name lands under .mesh/');
  await assert.rejects(inject({ files, output: files[0], loader: 'yaml', inspectDocker: false }), /one of your compose files/);
  writeFileSync(join(dir, 'mine.yaml'), 'services: {}\n');
  const before = sha(join(dir, 'mine.yaml'));
  await assert.rejects(inject({ files, output: join(dir, 'mine.yaml'), loader: 'yaml', inspectDocker: false }), /not written by meshctl/);
  assert.equal(sha(join(dir, 'mine.yaml')), before);
});

test('-p names the project; unknown --exclude is a usage error', async (t) => {
  const dir = project(t);
  const r = await inject({ files: [join(dir, 'compose.yaml')], loader: 'yaml', project: 'My_Shop', exclude: ['db'], inspectDocker: false });
  assert.equal(r.project, 'my_shop');
  assert.deepEqual(r.excluded, ['db']);
  assert.equal((r.model.services['api-mesh']!.labels as Obj)['mesh.passthrough'], 'db');
  await assert.rejects(inject({ files: [join(dir, 'compose.yaml')], loader: 'yaml', exclude: ['ghost'], inspectDocker: false }), (e: MeshError) => e.code === 'MESH_ERR_USAGE');
});

test('with no compose binary the yaml loader is used, and inject says so', async (t) => {
  const dir = project(t);
  const saved = process.env.MESH_COMPOSE;
  process.env.MESH_COMPOSE = 'none';
  findCompose({ refresh: true });
  t.after(() => {
    if (saved === undefined) delete process.env.MESH_COMPOSE;
    else process.env.MESH_COMPOSE = saved;
    findCompose({ refresh: true });
  });
  const r = await inject({ files: [join(dir, 'compose.yaml')], inspectDocker: false });
  assert.equal(r.loader, 'yaml (no compose binary found)');
  await assert.rejects(inject({ files: [join(dir, 'compose.yaml')], loader: 'compose', inspectDocker: false }), (e: MeshError) => e.code === 'MESH_ERR_COMPOSE_UNAVAILABLE');
});

test('meshctl inject: prints the loader and skips, exit 2 and nothing written on a refusal', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const dir = project(t);
  const main = join(import.meta.dirname, '..', '..', '..', 'src', 'cli', 'main.ts');
  const ok = spawnSync(process.execPath, [main, 'inject', '-f', join(dir, 'compose.yaml'), '--loader', 'yaml', '--json'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  const summary = JSON.parse(ok.stdout) as { loader: string; skipped: Array<{ service: string; reason: string }>; run: string };
  assert.equal(summary.loader, 'yaml (--loader yaml)');
  assert.equal(summary.skipped[0]!.service, 'tools');
  assert.match(summary.run, / -p shop -f .*\.mesh\/compose\.yaml up -d$/);
  const text = spawnSync(process.execPath, [main, 'inject', '-f', join(dir, 'compose.yaml'), '--loader', 'yaml'], { encoding: 'utf8' });
  assert.match(text.stdout, /skipped tools: network_mode: host/);
  writeFileSync(join(dir, 'clash.yaml'), 'services:\n  api:\n    image: a\n  api-mesh:\n    image: b\n');
  const refused = spawnSync(process.execPath, [main, 'inject', '-f', join(dir, 'clash.yaml'), '-o', join(dir, 'out', 'x.yaml'), '--loader', 'yaml'], { encoding: 'utf8' });
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /MESH_ERR_COMPOSE_UNSUPPORTED/);
  assert.equal(existsSync(join(dir, 'out')), false);
});

test('compose rejecting the input is MESH_ERR_COMPOSE_INVALID with its reason', { skip: !findCompose() && 'no compose binary' }, async (t) => {
  const dir = project(t);
  writeFileSync(join(dir, 'bad.yaml'), 'services:\n  a:\n    image: x\n    bogus_key: 1\n');
  await assert.rejects(inject({ files: [join(dir, 'bad.yaml')], loader: 'compose', inspectDocker: false }), (e: MeshError) => e.code === 'MESH_ERR_COMPOSE_INVALID' && /bogus_key/.test(e.message));
  assert.equal(existsSync(join(dir, '.mesh')), false);
});
