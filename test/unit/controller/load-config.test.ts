import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadMeshConfig } from '../../../src/controller/config/load-config.ts';

const dir = fileURLToPath(new URL('../../fixtures/controller/configs/', import.meta.url));
const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

test('a valid mesh.config.ts loads with defaults filled in', async () => {
  const r = await loadMeshConfig({ configPath: 'good.mesh.config.ts', cwd: dir });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.config.trustDomain, 'example.test');
  assert.equal(r.config.services.web!.ports![0], 8080);
  assert.equal(r.config.defaults.retries!.attempts, 1);
  assert.equal(r.config.defaults.protocol, 'http');
});

test('every error names the file, the field path, what is expected and what was found', async () => {
  const r = await loadMeshConfig({ configPath: 'bad-retries.mesh.config.ts', cwd: dir });
  assert.ok(!r.ok);
  const want = [
    'bad-retries.mesh.config.ts: services.payments.retries.attempts: expected an integer from 0 to 10, got "three"',
    'bad-retries.mesh.config.ts: services.payments.ports[1].port: expected an integer from 1 to 65535, got 70000',
    'bad-retries.mesh.config.ts: services.orders.mtls: expected one of "disabled", "strict", "permissive", got "sometimes"',
  ];
  for (const line of want) assert.ok(r.errors.includes(line), `missing:\n${line}\nin:\n${r.errors.join('\n')}`);
  assert.ok(r.errors.some((e) => /services\.payments: unknown field "protocl" \(expected one of: protocol,/.test(e)), r.errors.join('\n'));
});

test('cross-field rules are reported with their path', async () => {
  const r = await loadMeshConfig({ configPath: 'cross-field.mesh.config.ts', cwd: dir });
  assert.ok(!r.ok);
  assert.deepEqual(r.errors, [
    'cross-field.mesh.config.ts: services.web.ports: port 8080 is listed twice',
    'cross-field.mesh.config.ts: services.api.routes[0].to: expected at least one weight > 0, got all 0',
  ]);
});

test('x-mesh: in the compose file is read and checked against its services', async () => {
  const r = await loadMeshConfig({ composePath: 'compose-x-mesh.yaml', cwd: dir, configPath: undefined });
  assert.ok(!r.ok);
  assert.deepEqual(r.errors, ['compose-x-mesh.yaml (x-mesh): services.api.timeouts.requestMs: expected an integer from 0 to 86400000, got -5']);
});

test('a config naming a service the compose file lacks is an error', async () => {
  const r = await loadMeshConfig({ configPath: 'good.mesh.config.ts', composePath: 'compose-plain.yaml', cwd: dir });
  assert.ok(!r.ok);
  assert.deepEqual(r.errors, ['good.mesh.config.ts: services.api: no such service in compose-plain.yaml (it has: web)']);
});

test('meshctl validate exits 2 with the errors, 0 when valid, and speaks JSON', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [main, 'validate', ...args], { cwd: dir, encoding: 'utf8' });
  const bad = run('--config', 'bad-retries.mesh.config.ts');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /services\.payments\.retries\.attempts: expected an integer from 0 to 10, got "three"/);
  const good = run('--config', 'good.mesh.config.ts');
  assert.equal(good.status, 0, good.stderr);
  assert.match(good.stdout, /valid \(2 services configured\)/);
  const json = run('--config', 'bad-retries.mesh.config.ts', '--json');
  assert.equal(json.status, 2);
  const parsed = JSON.parse(json.stdout);
  assert.equal(parsed.ok, false);
  assert.ok(parsed.errors.length >= 4);
});
