// Docker discovery against the real engine: a compose project (the compose
// meshctl picks, v2 when installed; unique name per run) of tiny containers built here with `docker import` (no
// pulls). The controller runs in process with Docker discovery, reaching the
// engine through a socket relay this test can cut, to prove the watcher
// notices a dead event stream and resynchronises.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import Docker from 'dockerode';
import { eventually } from '../harness/eventually.ts';
import { startController, type ControllerHandle } from '../../src/controller/start-controller.ts';
import { DockerDiscovery } from '../../src/controller/discovery/docker-discovery.ts';
import { MeshConfig } from '../../src/shared/mesh-config.ts';
import { requireCompose } from '../../src/cli/compose/compose-cli.ts';
import { composeArgv } from '../../src/cli/compose/run-compose.ts';

const run = `ctle2e${process.pid}${Date.now().toString(36)}`;
const image = `meshctl-e2e-ctl:${run}`;
const dir = mkdtempSync(join(tmpdir(), 'meshctl-ctl-e2e-'));
const composeFile = join(dir, 'compose.yaml');
const dockerSock = process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice(7) : '/var/run/docker.sock';
const relaySock = join(dir, 'docker.sock');
const TOKEN = 't';
const composeCli = requireCompose();
const composeCmd = (...args: string[]) => composeArgv(composeCli, { files: [composeFile], project: run }, args);
const compose = (...args: string[]) => {
  const [cmd, ...rest] = composeCmd(...args);
  return execFileSync(cmd!, rest, { stdio: 'pipe', timeout: 120_000 }).toString();
};
const docker = new Docker({ socketPath: dockerSock });

/** A root filesystem with /bin/sleep, /bin/true, /bin/false and their libraries, imported as an image. */
function buildImage(): void {
  const root = join(dir, 'rootfs');
  const files = new Set<string>(['/bin/sleep', '/bin/true', '/bin/false']);
  for (const bin of [...files]) {
    for (const m of execFileSync('ldd', [bin]).toString().matchAll(/(\/[^\s]+\.so[^\s]*)/g)) files.add(m[1]!);
  }
  for (const f of files) {
    const dest = join(root, f);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(f, dest);
  }
  const tar = join(dir, 'rootfs.tar');
  execFileSync('tar', ['-C', root, '-cf', tar, '.']);
  execFileSync('docker', ['import', '-c', 'CMD ["/bin/sleep","3600"]', '-c', 'EXPOSE 8080', tar, image], { stdio: 'pipe' });
}

/** Unix-socket relay to dockerd that the test can cut (every open connection) and restore. */
class Relay {
  server?: Server;
  conns = new Set<Socket>();
  async start(): Promise<void> {
    if (existsSync(relaySock)) rmSync(relaySock);
    this.server = createServer((c) => {
      const up = createConnection(dockerSock);
      this.conns.add(c).add(up);
      c.pipe(up).pipe(c);
      const done = () => {
        c.destroy();
        up.destroy();
        this.conns.delete(c);
        this.conns.delete(up);
      };
      c.on('error', done).on('close', done);
      up.on('error', done).on('close', done);
    });
    await new Promise<void>((r) => this.server!.listen(relaySock, r));
  }
  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }
}

let ctl: ControllerHandle;
const relay = new Relay();

before(async () => {
  buildImage();
  writeFileSync(
    composeFile,
    `version: "2.4"
services:
  web:
    image: ${image}
    labels: { mesh.role: app }
    networks: { web-net: { aliases: [frontend] } }
  web-mesh:
    image: ${image}
    labels: { mesh.role: proxy, mesh.service: web }
    networks: [mesh, web-net]
  product:
    image: ${image}
    labels: { mesh.role: app, mesh.version: v2 }
    networks: [product-net]
  product-mesh:
    image: ${image}
    labels: { mesh.role: proxy, mesh.service: product }
    networks: [mesh, product-net]
  sick:
    image: ${image}
    labels: { mesh.role: app }
    networks: [sick-net]
    healthcheck: { test: ["CMD", "/bin/false"], interval: 1s, timeout: 1s, retries: 1 }
networks: { mesh: {}, web-net: {}, product-net: {}, sick-net: {} }
`,
  );
  compose('up', '-d');
  await relay.start();
  ctl = await startController({
    project: run,
    config: MeshConfig.parse({ services: { product: { ports: [8080] } } }),
    discovery: new DockerDiscovery({ project: run, docker: new Docker({ socketPath: relaySock }), backoff: { baseMs: 50, maxMs: 300 } }),
    stateDir: join(dir, 'state'),
    listen: { host: '127.0.0.1', port: 0 },
    token: TOKEN,
  });
});

after(async () => {
  await ctl?.close();
  await relay.stop();
  const [cmd, ...rest] = composeCmd('down', '-v', '--remove-orphans', '-t', '0');
  spawnSync(cmd!, rest, { stdio: 'ignore', timeout: 120_000 });
  spawnSync('docker', ['image', 'rm', '-f', image], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
});

async function get(path: string): Promise<any> {
  const res = await fetch(`${ctl.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200);
  return res.json();
}
const service = async (name: string) => (await get('/v1/services')).services.find((s: any) => s.name === name);
const inspectIp = async (id: string, net: string) => (await docker.getContainer(id).inspect()).NetworkSettings.Networks[`${run}_${net}`]!.IPAddress;
const idsOf = async (svc: string) =>
  (await docker.listContainers({ filters: { label: [`com.docker.compose.project=${run}`, `com.docker.compose.service=${svc}`] } })).map((c) => c.Id);

test('the project\'s containers appear with role, version and an address per network', async () => {
  const web = await eventually(async () => {
    const s = await service('web');
    assert.equal(s?.endpoints.length, 2);
    return s;
  });
  const [appId] = await idsOf('web');
  const [proxyId] = await idsOf('web-mesh');
  const app = web.endpoints.find((e: any) => e.role === 'app');
  const proxy = web.endpoints.find((e: any) => e.role === 'proxy');
  assert.equal(app.id, appId);
  assert.equal(proxy.id, proxyId);
  assert.deepEqual(Object.keys(app.addresses), ['web-net']);
  assert.deepEqual(Object.keys(proxy.addresses).sort(), ['mesh', 'web-net']);
  assert.equal(app.addresses['web-net'], await inspectIp(appId!, 'web-net'));
  assert.equal((await service('product')).versions[0], 'v2');
  // web's sidecar routes to product's sidecar on the mesh network
  const snap = await get(`/v1/snapshots/${proxyId}`);
  const out = snap.clusters.find((c: any) => c.name === 'out:product:8080');
  assert.deepEqual(out.endpoints.map((e: any) => e.address), [await inspectIp((await idsOf('product-mesh'))[0]!, 'mesh')]);
  // the image EXPOSEs 8080: web's inbound side exists even though mesh.config.ts does not list it
  assert.ok(snap.listeners.some((l: any) => l.name === 'in:8080'));
});

test('a failing Docker healthcheck marks the endpoint unhealthy', async () => {
  await eventually(async () => {
    const s = await service('sick');
    assert.equal(s?.endpoints[0]?.healthy, false);
  }, { timeoutMs: 20_000, intervalMs: 200 });
});

test('a scaled-up replica joins, a killed one disappears from every snapshot', async (t) => {
  const [proxyId] = await idsOf('web-mesh');
  const productProxy = (await idsOf('product-mesh'))[0]!;
  compose('up', '-d', '--no-recreate', '--scale', 'product=2');
  const ids = await idsOf('product');
  assert.equal(ids.length, 2);
  await eventually(async () => {
    const snap = await get(`/v1/snapshots/${productProxy}`);
    const c = snap.clusters.find((c: any) => c.name === 'in:product:8080');
    assert.equal(c.endpoints.length, 2);
  }, { timeoutMs: 20_000 });
  const victim = ids[1]!;
  const victimIp = await inspectIp(victim, 'product-net');
  const t0 = performance.now();
  await docker.getContainer(victim).kill();
  await eventually(async () => {
    for (const id of [proxyId!, productProxy]) {
      const snap = await get(`/v1/snapshots/${id}`);
      assert.ok(!JSON.stringify(snap).includes(`"${victimIp}"`), `${id} still routes to ${victimIp}`);
    }
    assert.equal((await service('product')).endpoints.filter((e: any) => e.role === 'app').length, 1);
  }, { timeoutMs: 10_000, intervalMs: 5 });
  // A figure, not a pass/fail: kill request → no snapshot routes to it (includes API polling).
  t.diagnostic(`container death to no route in any snapshot: ${(performance.now() - t0).toFixed(0)} ms`);
});

test('a recreated container is replaced: the old id leaves, the new one joins', async () => {
  const [oldId] = await idsOf('product-mesh');
  compose('up', '-d', '--force-recreate', '--no-deps', 'product-mesh');
  const [newId] = await idsOf('product-mesh');
  assert.notEqual(newId, oldId);
  await eventually(async () => {
    const ids = (await service('product')).endpoints.filter((e: any) => e.role === 'proxy').map((e: any) => e.id);
    assert.deepEqual(ids, [newId]);
    const snaps = await get('/v1/proxies');
    assert.ok(snaps.proxies.some((p: any) => p.proxyId === newId && p.desired));
    assert.ok(!snaps.proxies.some((p: any) => p.proxyId === oldId && p.desired));
  }, { timeoutMs: 15_000 });
});

test('the watcher notices a cut event stream, says it is stale, and resyncs from a full list', async () => {
  await eventually(async () => assert.equal((await get('/v1/health')).discovery.stale, false));
  await relay.stop(); // cuts the event stream and refuses reconnects
  await eventually(async () => {
    const h = await get('/v1/health');
    assert.equal(h.discovery.stale, true);
    assert.match(h.discovery.error, /event stream|docker/);
  });
  // A change while the controller is blind: only a full resync can see it.
  const [webApp] = await idsOf('web');
  await docker.getContainer(webApp!).stop({ t: 0 });
  await relay.start();
  await eventually(async () => {
    const h = await get('/v1/health');
    assert.equal(h.discovery.stale, false);
    const web = await service('web');
    assert.deepEqual(web.endpoints.map((e: any) => e.role), ['proxy']);
  }, { timeoutMs: 15_000 });
  // and events flow again afterwards
  await docker.getContainer(webApp!).start();
  await eventually(async () => assert.equal((await service('web')).endpoints.length, 2), { timeoutMs: 15_000 });
  const h = await get('/v1/health');
  assert.ok(h.discovery.lastEventAgeMs >= 0);
});
