// The pure parts of `meshctl up`: published host ports read from both compose
// normal forms, free-port probing, merged proxy rows, durations, and the
// controller's service definition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, publishedHostPorts, portBusy } from '../../../src/cli/up/host-ports.ts';
import { parseDuration } from '../../../src/cli/parse-duration.ts';
import { controllerService } from '../../../src/cli/up/controller-service.ts';
import { MESH_NODE_OPTIONS } from '../../../src/cli/compose/rewrite-compose.ts';
import { readUpState } from '../../../src/cli/up/mesh-state.ts';
import { upProjectName } from '../../../src/cli/up/run-up.ts';
import { MeshError } from '../../../src/shared/errors.ts';

test('published host ports from short strings (v1 config) and long objects (v2 config); ranges and Docker-picked ports are left out', () => {
  const ports = publishedHostPorts({
    services: {
      web: { ports: ['8080:80', '127.0.0.1:9090:90/tcp', '3000', '127.0.0.1::5000', '7000-7001:7000-7001'] },
      api: { ports: [{ target: 80, published: '8081', host_ip: '127.0.0.1', protocol: 'tcp' }, { target: 81 }] },
      none: { image: 'x' },
    },
  });
  assert.deepEqual(ports, [
    { service: 'web', host: '0.0.0.0', port: 8080, target: '80' },
    { service: 'web', host: '127.0.0.1', port: 9090, target: '90' },
    { service: 'api', host: '127.0.0.1', port: 8081, target: '80' },
  ]);
});

test('portBusy names the error for a taken port and nothing for a free one', async (t) => {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.after(() => s.close());
  const port = (s.address() as { port: number }).port;
  assert.equal(await portBusy('127.0.0.1', port), 'EADDRINUSE');
  const free = createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
  const freePort = (free.address() as { port: number }).port;
  await new Promise<void>((r) => free.close(() => r()));
  assert.equal(await portBusy('127.0.0.1', freePort), undefined);
});

test('freePort hands out bindable ports below the kernel ephemeral range, so an outgoing connection cannot take one before Docker binds it', async (t) => {
  const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  if (ephemeralLow < 21_000) return t.skip(`this kernel's ephemeral range starts at ${ephemeralLow}: no room below it`);
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    assert.ok(port >= 20_000 && port < ephemeralLow, `port ${port} is below ${ephemeralLow}`);
    assert.equal(await portBusy('127.0.0.1', port), undefined);
  }
});

test('durations: 120s, 2m, 1500ms, bare seconds; anything else is a usage error', () => {
  assert.equal(parseDuration('120s', '--timeout'), 120_000);
  assert.equal(parseDuration('2m', '--timeout'), 120_000);
  assert.equal(parseDuration('1500ms', '--timeout'), 1500);
  assert.equal(parseDuration('30', '--timeout'), 30_000);
  assert.throws(() => parseDuration('soon', '--timeout'), /expected e\.g\. 120s/);
});

test('the controller service: API on 127.0.0.1 only, Docker socket and state mounted, token by env, on the mesh network', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-up-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'mesh.config.ts');
  writeFileSync(configFile, 'export default {};\n');
  const make = () => controllerService({ project: 'shop', image: 'mesh:1', token: 'tok', hostPort: 41000, stateDir: '/p/.mesh', configFile, meshNetwork: 'mesh' }) as Record<string, any>;
  const svc = make();
  // Only the API is published; the mTLS push listener (15011) is on the mesh network alone.
  assert.deepEqual(svc.ports, ['127.0.0.1:41000:15010']);
  assert.deepEqual(svc.command, ['controller', '--project', 'shop', '--discovery', 'docker', '--listen', '0.0.0.0:15010',
    '--push-listen', '0.0.0.0:15011', '--push-dns', 'mesh-controller', '--state-dir', '/state', '--config', '/config/mesh.config.ts']);
  assert.ok(svc.volumes.includes('/p/.mesh:/state'));
  assert.ok(svc.volumes.includes(`${configFile}:/config/mesh.config.ts:ro`));
  // A config change changes the definition, so compose recreates the controller, which reloads it.
  writeFileSync(configFile, 'export default { services: {} };\n');
  assert.notEqual(make().labels['mesh.config-hash'], svc.labels['mesh.config-hash']);
  assert.ok(svc.volumes.some((v: string) => v.endsWith(':/var/run/docker.sock')));
  // MESH_IMAGE: the image discovery runs its port-learning helper from.
  assert.deepEqual(svc.environment, { MESH_BOOTSTRAP_TOKEN: 'tok', MESH_IMAGE: 'mesh:1', NODE_OPTIONS: MESH_NODE_OPTIONS });
  // The static probe on the API's health endpoint, not a Node per probe.
  assert.deepEqual(svc.healthcheck.test, ['CMD', '/usr/local/bin/mesh-ready', '15010', '/v1/health']);
  assert.deepEqual(svc.networks, { mesh: null });
  assert.equal(svc.labels['mesh.role'], 'controller');
});

test('a corrupt .mesh/up.json is named with the fix, not thrown as a bare SyntaxError', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-up-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, '.mesh'));
  writeFileSync(join(dir, '.mesh', 'up.json'), '{"project": ');
  assert.throws(() => readUpState(dir), (err: unknown) => err instanceof MeshError && /up\.json is not valid JSON/.test(err.message) && /meshctl up/.test(err.hint));
});

test('-p is normalised as compose does (lower case, [a-z0-9_-]), so the controller filters on the label compose writes', () => {
  assert.equal(upProjectName('My.Shop_1', '/x/whatever'), 'myshop_1');
  assert.equal(upProjectName(undefined, '/x/Shop-Demo'), 'shop-demo');
  assert.throws(() => upProjectName('...', '/x/y'), (e: unknown) => e instanceof MeshError && e.code === 'MESH_ERR_USAGE');
});
