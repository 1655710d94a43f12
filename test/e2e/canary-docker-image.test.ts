// `canary start --image` on the real Docker engine: the controller (Docker
// discovery) clones the service's app container with the new image and the
// canary labels, on the service's private network only, waits for it, and
// begins the rollout. A missing image ends the rollout with the reason. The
// clone keeps the compose labels but not the config hash; `meshctl down`
// removes it before compose down (v2, whichever compose meshctl picks here,
// ignores containers without a config hash).
// Uses the local mesh image (never pulls) and a unique project; all cleaned up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { eventually } from '../harness/eventually.ts';
import { startController } from '../../src/controller/start-controller.ts';
import { DockerDiscovery } from '../../src/controller/discovery/docker-discovery.ts';
import { DockerCanaryLauncher } from '../../src/controller/canary/docker-canary-launcher.ts';
import { MeshConfig } from '../../src/shared/mesh-config.ts';
import { requireCompose } from '../../src/cli/compose/compose-cli.ts';
import { composeArgv } from '../../src/cli/compose/run-compose.ts';
import { removeControllerContainers } from '../../src/cli/up/run-down.ts';
import { api, tempDir, TOKEN } from '../harness/controller-harness.ts';

const BASE_IMAGE = process.env.MESH_TEST_IMAGE ?? 'mesh:0.1.0';

test('--image clones an app container of the service as the canary and begins the rollout', { timeout: 120_000 }, async (t) => {
  const docker = new Docker();
  const project = `canarytest${randomBytes(4).toString('hex')}`;
  const canaryTag = `canary-${project}`;
  t.after(async () => {
    const mine = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
    for (const c of mine) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    await docker.getNetwork(`${project}_product-net`).remove().catch(() => {});
    await docker.getImage(`mesh:${canaryTag}`).remove().catch(() => {}); // removes our tag only
  });
  await docker.getImage(BASE_IMAGE).tag({ repo: 'mesh', tag: canaryTag });
  await docker.createNetwork({ Name: `${project}_product-net`, Labels: { 'com.docker.compose.project': project, 'com.docker.compose.network': 'product-net' } });
  const template = await docker.createContainer({
    name: `${project}_product_1`,
    Image: BASE_IMAGE,
    Cmd: ['sample-app', '--port', '8080'],
    Env: ['SERVICE_NAME=product'],
    Labels: {
      'com.docker.compose.project': project,
      'com.docker.compose.service': 'product',
      'com.docker.compose.container-number': '1',
      'mesh.service': 'product',
      'mesh.role': 'app',
      'mesh.version': 'v1',
    },
    HostConfig: { NetworkMode: `${project}_product-net` },
    NetworkingConfig: { EndpointsConfig: { [`${project}_product-net`]: { Aliases: ['product'] } } },
  });
  await template.start();

  const dir = tempDir(t);
  const ctl = await startController({
    project,
    config: MeshConfig.parse({ services: { product: { ports: [8080] } } }),
    discovery: new DockerDiscovery({ project }),
    stateDir: join(dir, 'state'),
    listen: { host: '127.0.0.1', port: 0 },
    token: TOKEN,
    scrapeMs: 500,
  });
  t.after(() => ctl.close());
  await eventually(async () => assert.deepEqual((await api(ctl.url, 'GET', '/v1/services')).body.services.find((s: { name: string }) => s.name === 'product')?.versions, ['v1']), { timeoutMs: 20_000 });

  const r = await api(ctl.url, 'POST', '/v1/canary', { service: 'product', image: `mesh:${canaryTag}`, version: 'v2', intervalMs: 1000 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.state, 'pending');
  assert.deepEqual((await api(ctl.url, 'GET', '/v1/overrides')).body.services.product.weights, { v1: 100 }, 'only the stable subset before the canary exists');

  const s = await eventually(
    async () => {
      const s = (await api(ctl.url, 'GET', '/v1/canary/product')).body;
      assert.equal(s.state, 'progressing', JSON.stringify(s));
      return s;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  assert.equal(s.weight, 5);
  assert.equal(s.image, `mesh:${canaryTag}`);
  assert.deepEqual((await api(ctl.url, 'GET', '/v1/overrides')).body.services.product.weights, { v1: 95, v2: 5 });

  const canaries = await docker.listContainers({ filters: { label: [`com.docker.compose.project=${project}`, 'mesh.canary=true'] } });
  assert.equal(canaries.length, 1);
  const info = await docker.getContainer(canaries[0]!.Id).inspect();
  const tmpl = await template.inspect();
  assert.equal(info.Config.Image, `mesh:${canaryTag}`);
  assert.deepEqual(info.Config.Cmd, tmpl.Config.Cmd);
  assert.deepEqual(info.Config.Env, tmpl.Config.Env);
  assert.equal(info.Config.Labels['mesh.version'], 'v2');
  assert.equal(info.Config.Labels['com.docker.compose.project'], project);
  assert.equal(info.Config.Labels['com.docker.compose.service'], 'product');
  assert.deepEqual(Object.keys(info.NetworkSettings.Networks), [`${project}_product-net`]);
  assert.ok(info.NetworkSettings.Networks[`${project}_product-net`]!.Aliases?.includes('product'));

  // A second image that is not on the engine: the rollout ends with the reason, nothing is started.
  assert.equal((await api(ctl.url, 'POST', `/v1/canary/product/abort`)).status, 200);
  const missing = await api(ctl.url, 'POST', '/v1/canary', { service: 'product', image: `mesh:absent-${project}`, version: 'v3', stable: 'v1' });
  assert.equal(missing.status, 200, JSON.stringify(missing.body));
  const ended = await eventually(async () => {
    const s = (await api(ctl.url, 'GET', '/v1/canary/product')).body;
    assert.equal(s.state, 'aborted');
    return s;
  });
  assert.match(ended.reason, /not on this Docker engine/);
  const health = (await api(ctl.url, 'GET', '/v1/health')).body;
  assert.deepEqual(health.buildErrors, [], 'the never-started v3 leaves no weight behind');
});

test('the cloned canary carries the compose labels, so `meshctl down` (its canary sweep, then compose down) removes it with the project; retire removes a version', { timeout: 120_000 }, async (t) => {
  const docker = new Docker();
  const project = `canarytest${randomBytes(4).toString('hex')}`;
  const dir = tempDir(t);
  const file = join(dir, 'docker-compose.yml');
  writeFileSync(
    file,
    [
      'version: "2.4"',
      'services:',
      '  product:',
      `    image: ${BASE_IMAGE}`,
      '    command: ["sample-app", "--port", "8080"]',
      '    labels: { mesh.service: product, mesh.role: app, mesh.version: v1 }',
      '    networks: [product-net]',
      'networks:',
      '  product-net: {}',
      '',
    ].join('\n'),
  );
  const composeCmd = (args: string[]): [string, string[]] => {
    const [cmd, ...rest] = composeArgv(requireCompose(), { files: [file], project }, args);
    return [cmd!, rest];
  };
  const compose = (...args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) =>
      execFile(...composeCmd(args), { timeout: 90_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr })),
    );
  t.after(async () => {
    await compose('down', '--remove-orphans');
    const left = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
    for (const c of left) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    await docker.getNetwork(`${project}_product-net`).remove().catch(() => {});
  });
  const up = await compose('up', '-d');
  assert.equal(up.code, 0, up.out);

  const launcher = new DockerCanaryLauncher({ project });
  await launcher.launch('product', BASE_IMAGE, 'v2');
  const mine = () => docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
  const before = await mine();
  assert.equal(before.length, 2);
  const canary = before.find((c) => c.Labels['mesh.canary'] === 'true')!;
  assert.equal(canary.Labels['mesh.version'], 'v2');
  assert.equal(canary.Labels['com.docker.compose.container-number'], '2');
  assert.equal(canary.State, 'running');

  // Promotion's retirement: the compose service's own v1 container goes, the promoted canary stays; the last
  // running version is never retired.
  assert.equal(await launcher.retire('product', 'v1'), 1);
  assert.deepEqual((await mine()).map((c) => c.Id), [canary.Id]);
  await assert.rejects(launcher.retire('product', 'v2'), /no other running version of product; v2 is kept/);
  assert.equal((await mine()).length, 1);

  // The clone has no compose config hash (with one, `compose up` would scale it away as an extra
  // replica); compose v2 ignores such containers in `down` too, so `meshctl down` removes canaries first.
  assert.deepEqual(removeControllerContainers(project), [canary.Id.slice(0, 12)]);
  const down = await compose('down');
  assert.equal(down.code, 0, down.out);
  assert.deepEqual(await mine(), [], 'nothing of the project is left');
  await assert.rejects(docker.getNetwork(`${project}_product-net`).inspect(), 'the network went with it');
});
