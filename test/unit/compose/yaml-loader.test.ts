import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadWithYaml } from '../../../src/cli/compose/yaml-loader.ts';
import type { Obj } from '../../../src/cli/compose/compose-model.ts';

const dir = join(import.meta.dirname, 'fixtures', 'full');
const files = [join(dir, 'compose.yaml'), join(dir, 'override.yaml')];

test('anchors, merge keys, .env and defaults are resolved; $$ becomes a literal $', () => {
  const m = loadWithYaml(files);
  const web = m.services.web!;
  const api = m.services.api!;
  assert.equal(web.image, 'nginx:1.27');
  assert.deepEqual(web.ports, ['8088:80']);
  assert.deepEqual((web.logging as Obj).driver, 'json-file');
  const env = api.environment as Obj;
  assert.equal(env.TZ, 'UTC');
  assert.equal(env.LITERAL, 'price: 5$ and ${NOT_A_VAR}');
  assert.deepEqual(api.command, ['sh', '-c', 'echo $HOSTNAME && node server.js']);
  assert.equal(((api.build as Obj).args as Obj).VERSION, '2.3');
  assert.ok(!Object.keys(m).some((k) => k.startsWith('x-')));
});

test('extends from another file: inherited keys, paths relative to that file, local keys win', () => {
  const api = loadWithYaml(files).services.api!;
  assert.equal(api.working_dir, '/srv');
  assert.deepEqual(api.labels, { team: 'platform' });
  assert.deepEqual(api.volumes, [`${join(dir, 'common', 'cache')}:/srv/.cache`]);
  assert.equal(api.image, 'node:24-slim');
  assert.equal((api.build as Obj).context, join(dir, 'backend'));
});

test('several -f files merge as compose does: maps by key, ports appended, others replaced', () => {
  const m = loadWithYaml(files);
  const api = m.services.api!;
  assert.equal((api.environment as Obj).LOG_LEVEL, 'debug');
  assert.equal((api.environment as Obj).DB_HOST, 'db');
  assert.deepEqual(api.ports, ['3000:3000']);
  assert.deepEqual((m.services.db!.deploy as Obj).replicas, 1);
  assert.deepEqual(api.env_file, [join(dir, 'backend', 'api.env')]);
  assert.equal((m.secrets!['db-password'] as Obj).file, join(dir, 'secrets', 'db-password.txt'));
  const bind = (m.services.db!.volumes as Obj[])[1]!;
  assert.equal(bind.source, join(dir, 'db', 'init.sql'));
  assert.equal((m.services.db!.volumes as unknown[])[0], 'db-data:/var/lib/postgresql/data');
});

test('a missing file, bad YAML or a missing extends target are clear errors', async (t) => {
  assert.throws(() => loadWithYaml([join(dir, 'nope.yaml')]), /cannot read compose file/);
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const tmp = mkdtempSync(join((await import('node:os')).tmpdir(), 'mesh-yl-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  writeFileSync(join(tmp, 'bad.yaml'), 'services:\n  a: [\n');
  assert.throws(() => loadWithYaml([join(tmp, 'bad.yaml')]), /not valid YAML/);
  writeFileSync(join(tmp, 'ext.yaml'), 'services:\n  a:\n    extends: { service: ghost }\n');
  assert.throws(() => loadWithYaml([join(tmp, 'ext.yaml')]), /extends "ghost", which does not exist/);
});
