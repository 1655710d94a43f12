import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relocatePaths } from '../../../src/cli/compose/relocate-paths.ts';
import type { ComposeModel } from '../../../src/cli/compose/compose-model.ts';

const project = '/home/u/shop';
const out = '/home/u/shop/.mesh';

test('paths inside the project become relative to .mesh/, outside ones stay absolute, the rest is untouched', () => {
  const m: ComposeModel = {
    services: {
      a: {
        build: { context: '/home/u/shop/backend', dockerfile: 'Dockerfile.dev' },
        volumes: ['/home/u/shop/src:/src:ro', '/var/run/docker.sock:/var/run/docker.sock', 'data:/data', '.:/media:rw', { type: 'bind', source: '/home/u/shop', target: '/x' }, { type: 'volume', source: 'data', target: '/y' }],
        env_file: ['/home/u/shop/a.env'],
      },
      b: { build: 'https://github.com/x/y.git#main', volumes: ['~/cache:/c'] },
    },
    secrets: { s: { file: '/home/u/shop/secrets/s.txt' }, e: { external: true } },
    configs: { c: { file: '/etc/c.conf' } },
  };
  const r = relocatePaths(m, project, out);
  assert.deepEqual(r.services.a!.build, { context: '../backend', dockerfile: 'Dockerfile.dev' });
  assert.deepEqual(r.services.a!.volumes, ['../src:/src:ro', '/var/run/docker.sock:/var/run/docker.sock', 'data:/data', '..:/media:rw', { type: 'bind', source: '..', target: '/x' }, { type: 'volume', source: 'data', target: '/y' }]);
  assert.deepEqual(r.services.a!.env_file, ['../a.env']);
  assert.deepEqual(r.services.b, m.services.b);
  assert.deepEqual(r.secrets, { s: { file: '../secrets/s.txt' }, e: { external: true } });
  assert.deepEqual(r.configs, { c: { file: '/etc/c.conf' } });
});

test('an output elsewhere gets paths relative to itself', () => {
  const r = relocatePaths({ services: { a: { build: { context: '/home/u/shop/api' } } } }, project, '/home/u/shop/deploy/gen');
  assert.deepEqual(r.services.a!.build, { context: '../../api' });
});
