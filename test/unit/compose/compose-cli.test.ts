import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeFor, composeOfKind, findCompose, requireCompose } from '../../../src/cli/compose/compose-cli.ts';
import { composeArgv } from '../../../src/cli/compose/run-compose.ts';
import { projectNameFrom } from '../../../src/cli/compose/load-compose.ts';
import { MeshError } from '../../../src/shared/errors.ts';

function withCompose(value: string | undefined, fn: () => void): void {
  const saved = process.env.MESH_COMPOSE;
  if (value === undefined) delete process.env.MESH_COMPOSE;
  else process.env.MESH_COMPOSE = value;
  try {
    findCompose({ refresh: true });
    fn();
  } finally {
    if (saved === undefined) delete process.env.MESH_COMPOSE;
    else process.env.MESH_COMPOSE = saved;
    findCompose({ refresh: true });
  }
}

const PLUGIN = '/usr/libexec/docker/cli-plugins/docker-compose';

/** What `version --short` of that command says it is: 'v1' (1.x), 'v2' (2.x) or undefined. */
const kindOf = (cmd: string[]) => {
  const r = spawnSync(cmd[0]!, [...cmd.slice(1), 'version', '--short'], { encoding: 'utf8' });
  return r.status === 0 && /^v?\d+\./.test(r.stdout.trim()) ? (/^v?1\./.test(r.stdout.trim()) ? 'v1' : 'v2') : undefined;
};
const plugin = kindOf(['docker', 'compose']);
const standalone = kindOf(['docker-compose']);
const has = (kind: 'v1' | 'v2') => plugin === kind || standalone === kind;

test('detection: v2 when `docker compose` works, else `docker-compose` (v1, or v2 by its version), else a clear error', () => {
  withCompose(undefined, () => {
    const cli = findCompose();
    if (plugin) assert.deepEqual([cli?.kind, cli?.command], [plugin, ['docker', 'compose']]);
    else if (standalone) assert.deepEqual([cli?.kind, cli?.command], [standalone, ['docker-compose']]);
    else assert.equal(cli, undefined);
    if (cli) assert.match(cli.version, /^\d+\.\d+/);
  });
  withCompose('v1', () => assert.equal(findCompose()?.kind, has('v1') ? 'v1' : undefined));
  withCompose('v2', () => assert.equal(findCompose()?.kind, has('v2') ? 'v2' : undefined));
  withCompose('none', () => {
    assert.equal(findCompose(), undefined);
    // Tests that cover both implementations ask for each by kind, whatever MESH_COMPOSE says.
    assert.equal(composeOfKind('v1')?.kind, has('v1') ? 'v1' : undefined);
    assert.equal(composeOfKind('v2')?.kind, has('v2') ? 'v2' : undefined);
    assert.throws(() => requireCompose(), (e: MeshError) => e.code === 'MESH_ERR_COMPOSE_UNAVAILABLE' && /docker-compose/.test(e.hint));
  });
});

test('down uses the compose up recorded, unless MESH_COMPOSE says otherwise or it is gone', { skip: !(plugin === 'v2' && standalone === 'v1') && 'needs `docker compose` v2 and `docker-compose` v1' }, () => {
  withCompose(undefined, () => {
    assert.equal(composeFor(['docker-compose']).kind, 'v1');
    assert.equal(composeFor(['docker', 'compose']).kind, 'v2');
    assert.equal(composeFor(undefined).kind, 'v2');
    assert.equal(composeFor(['podman-compose']).kind, 'v2');
  });
  withCompose('v2', () => assert.equal(composeFor(['docker-compose']).kind, 'v2'));
});

test('compose argv: project, project directory, files and profiles before the command, for v1 and v2', () => {
  const run = { files: ['/p/.mesh/compose.yaml'], project: 'shop', profiles: ['debug'] };
  assert.deepEqual(composeArgv({ kind: 'v2', command: ['docker', 'compose'], version: '2.29.0' }, run, ['up', '-d']), ['docker', 'compose', '-p', 'shop', '-f', '/p/.mesh/compose.yaml', '--profile', 'debug', 'up', '-d']);
  assert.deepEqual(composeArgv({ kind: 'v1', command: ['docker-compose'], version: '1.29.2' }, { ...run, projectDirectory: '/p' }, ['ps', '-q']), ['docker-compose', '-p', 'shop', '--project-directory', '/p', '-f', '/p/.mesh/compose.yaml', '--profile', 'debug', 'ps', '-q']);
});

test('project names follow compose v2\'s rule (lowercase [a-z0-9_-], starting with a letter or digit), which v1 accepts too', () => {
  assert.equal(projectNameFrom('My Shop.v2'), 'myshopv2');
  assert.equal(projectNameFrom('_-shop_1'), 'shop_1');
  assert.equal(projectNameFrom('___'), '');
});

test('a `docker-compose` that is v2 (standalone binary or symlink to the plugin) counts as v2, not v1', { skip: !existsSync(PLUGIN) && `needs the v2 plugin at ${PLUGIN}` }, (t) => {
  const bin = mkdtempSync(join(tmpdir(), 'mesh-compose-bin-'));
  symlinkSync(PLUGIN, join(bin, 'docker-compose'));
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path}`;
  t.after(() => {
    process.env.PATH = path;
    rmSync(bin, { recursive: true, force: true });
    composeOfKind('v1', { refresh: true });
    findCompose({ refresh: true });
  });
  withCompose('v1', () => {
    assert.equal(composeOfKind('v1', { refresh: true }), undefined);
    assert.equal(findCompose(), undefined);
  });
  withCompose(undefined, () => {
    assert.deepEqual(findCompose()?.command, ['docker', 'compose']);
    const recorded = composeFor(['docker-compose']);
    assert.deepEqual([recorded.kind, recorded.command], ['v2', ['docker-compose']]);
  });
});
