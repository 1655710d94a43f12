import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { findCompose, requireCompose } from '../../../src/cli/compose/compose-cli.ts';
import { composeArgv } from '../../../src/cli/compose/run-compose.ts';
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

const has = (cmd: string[]) => spawnSync(cmd[0]!, [...cmd.slice(1), 'version', '--short'], { encoding: 'utf8' }).status === 0;

test('detection: v2 when `docker compose` works, else v1, else a clear error', () => {
  withCompose(undefined, () => {
    const cli = findCompose();
    if (has(['docker', 'compose'])) assert.equal(cli?.kind, 'v2');
    else if (has(['docker-compose'])) assert.equal(cli?.kind, 'v1');
    else assert.equal(cli, undefined);
    if (cli) assert.match(cli.version, /^\d+\.\d+/);
  });
  withCompose('v1', () => assert.equal(findCompose()?.kind, has(['docker-compose']) ? 'v1' : undefined));
  withCompose('v2', () => assert.equal(findCompose()?.kind, has(['docker', 'compose']) ? 'v2' : undefined));
  withCompose('none', () => {
    assert.equal(findCompose(), undefined);
    assert.throws(() => requireCompose(), (e: MeshError) => e.code === 'MESH_ERR_COMPOSE_UNAVAILABLE' && /docker-compose/.test(e.hint));
  });
});

test('compose argv: project, project directory, files and profiles before the command, for v1 and v2', () => {
  const run = { files: ['/p/.mesh/compose.yaml'], project: 'shop', profiles: ['debug'] };
  assert.deepEqual(composeArgv({ kind: 'v2', command: ['docker', 'compose'], version: '2.29.0' }, run, ['up', '-d']), ['docker', 'compose', '-p', 'shop', '-f', '/p/.mesh/compose.yaml', '--profile', 'debug', 'up', '-d']);
  assert.deepEqual(composeArgv({ kind: 'v1', command: ['docker-compose'], version: '1.29.2' }, { ...run, projectDirectory: '/p' }, ['ps', '-q']), ['docker-compose', '-p', 'shop', '--project-directory', '/p', '-f', '/p/.mesh/compose.yaml', '--profile', 'debug', 'ps', '-q']);
});
