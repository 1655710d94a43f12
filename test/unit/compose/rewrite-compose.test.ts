import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rewriteCompose, MESH_NODE_OPTIONS, type RewriteResult } from '../../../src/cli/compose/rewrite-compose.ts';
import type { ComposeModel, Obj } from '../../../src/cli/compose/compose-model.ts';
import { normaliseService } from '../../../src/cli/compose/normalise-service.ts';
import { MeshError } from '../../../src/shared/errors.ts';

function model(services: Record<string, Obj>, rest: Obj = {}): ComposeModel {
  return { ...rest, services: Object.fromEntries(Object.entries(services).map(([k, v]) => [k, normaliseService(v)])) } as ComposeModel;
}
const opts = { project: 'shop', image: 'mesh:test' };
const svc = (r: RewriteResult, name: string) => r.model.services[name] as Obj & { networks: Record<string, Obj | null>; labels: Record<string, string> };
const aliases = (r: RewriteResult, name: string, net: string) => ((svc(r, name).networks[net] as Obj).aliases as string[]).slice().sort();

test('each service moves to its own S-net and its sidecar takes its place on the user networks', () => {
  const r = rewriteCompose(model({ orders: { image: 'o' }, payments: { image: 'p' } }), opts);
  assert.deepEqual(r.meshed, ['orders', 'payments']);
  assert.deepEqual(svc(r, 'orders').networks, { 'orders-net': null });
  assert.deepEqual(aliases(r, 'orders-mesh', 'default'), ['orders']);
  assert.deepEqual(aliases(r, 'orders-mesh', 'orders-net'), ['payments']);
  assert.deepEqual(aliases(r, 'payments-mesh', 'payments-net'), ['orders']);
  const sc = svc(r, 'orders-mesh');
  assert.equal(sc.image, 'mesh:test');
  assert.deepEqual(sc.command, ['proxy']);
  assert.deepEqual(sc.labels, { 'mesh.role': 'proxy', 'mesh.service': 'orders' });
  assert.deepEqual(svc(r, 'orders').labels, { 'mesh.role': 'app', 'mesh.service': 'orders', 'mesh.version': 'v1' });
  assert.deepEqual(svc(r, 'orders').depends_on, { 'orders-mesh': { condition: 'service_healthy' } });
  const test = (sc.healthcheck as { test: string[] }).test;
  assert.equal(test[0], 'CMD');
  // The image's static probe (no node start per probe) on the admin port's /ready.
  assert.deepEqual(test, ['CMD', '/usr/local/bin/mesh-ready', '15000', '/ready']);
  assert.ok(!test.join(' ').includes('$'), 'no $ for compose to interpolate');
  const nets = r.model.networks as Record<string, Obj>;
  assert.deepEqual(Object.keys(nets).sort(), ['default', 'mesh', 'orders-net', 'payments-net']);
  // Every sidecar shares the mesh network, whatever its app's networks were.
  assert.deepEqual(Object.keys(sc.networks).sort(), ['default', 'mesh', 'orders-net']);
  assert.equal(sc.networks.mesh, null);
  assert.deepEqual((nets['orders-net']!.labels as Obj)['mesh.role'], 'app-net');
});

test('published ports move to the sidecar; expose stays; both are recorded in mesh.ports', () => {
  const r = rewriteCompose(model({ web: { image: 'w', ports: ['8080:80', { target: 53, published: 53, protocol: 'udp' }], expose: ['9000'] } }), opts);
  assert.equal(svc(r, 'web').ports, undefined);
  assert.deepEqual(svc(r, 'web').expose, ['9000']);
  assert.deepEqual(svc(r, 'web-mesh').ports, ['8080:80', { target: 53, published: 53, protocol: 'udp' }]);
  assert.equal(svc(r, 'web').labels['mesh.ports'], '80/tcp,53/udp,9000/tcp');
});

test('existing depends_on conditions, labels and mesh.version are kept', () => {
  const r = rewriteCompose(
    model({ api: { image: 'a', labels: ['mesh.version=v2', 'team=x'], depends_on: { db: { condition: 'service_healthy' } } }, db: { image: 'd' } }),
    opts,
  );
  assert.deepEqual(svc(r, 'api').depends_on, { db: { condition: 'service_healthy' }, 'api-mesh': { condition: 'service_healthy' } });
  assert.equal(svc(r, 'api').labels['mesh.version'], 'v2');
  assert.equal(svc(r, 'api').labels.team, 'x');
});

test('the sidecar inherits profiles and restart; a scaled service still gets one sidecar', () => {
  const r = rewriteCompose(model({ w: { image: 'w', profiles: ['debug'], restart: 'always', deploy: { replicas: 3 } }, v: { image: 'v', scale: 2 } }), opts);
  assert.deepEqual(svc(r, 'w-mesh').profiles, ['debug']);
  assert.equal(svc(r, 'w-mesh').restart, 'always');
  assert.equal(svc(r, 'v-mesh').profiles, undefined);
  assert.deepEqual(Object.keys(r.model.services).sort(), ['v', 'v-mesh', 'w', 'w-mesh']);
  assert.deepEqual((svc(r, 'w').deploy as Obj).replicas, 3);
});

test('network segmentation survives: a sidecar answers only for services its app could reach before', () => {
  const r = rewriteCompose(
    model(
      {
        frontend: { image: 'f', networks: ['client'] },
        backend: { image: 'b', networks: { client: null, server: { aliases: ['api'] } } },
        db: { image: 'd', networks: ['server'] },
      },
      { networks: { client: {}, server: {} } },
    ),
    opts,
  );
  assert.deepEqual(aliases(r, 'frontend-mesh', 'frontend-net'), ['api', 'backend']);
  assert.deepEqual(aliases(r, 'db-mesh', 'db-net'), ['api', 'backend']);
  assert.deepEqual(aliases(r, 'backend-mesh', 'backend-net'), ['db', 'frontend']);
  assert.deepEqual(aliases(r, 'backend-mesh', 'server'), ['api', 'backend']);
  assert.deepEqual(Object.keys(svc(r, 'backend-mesh').networks).sort(), ['backend-net', 'client', 'mesh', 'server']);
  assert.deepEqual(Object.keys(svc(r, 'db-mesh').networks).sort(), ['db-net', 'mesh', 'server']);
  assert.ok(!('default' in (r.model.networks as Obj)), 'no default network when nobody used it');
});

test('a static address on a user network moves to the sidecar with the service name', () => {
  const r = rewriteCompose(model({ dns: { image: 'd', networks: { lan: { ipv4_address: '172.30.0.53' } } } }, { networks: { lan: { ipam: { config: [{ subnet: '172.30.0.0/24' }] } } } }), opts);
  assert.deepEqual(Object.keys(svc(r, 'dns-mesh').networks).sort(), ['dns-net', 'lan', 'mesh']);
  assert.deepEqual(svc(r, 'dns-mesh').networks.lan, { ipv4_address: '172.30.0.53', aliases: ['dns'] });
  assert.deepEqual(svc(r, 'dns').networks, { 'dns-net': null });
});

test('links become aliases on S-net and are removed from the app', () => {
  const r = rewriteCompose(model({ web: { image: 'w', links: ['db:database'] }, db: { image: 'd' } }), opts);
  assert.equal(svc(r, 'web').links, undefined);
  assert.deepEqual(aliases(r, 'web-mesh', 'web-net'), ['database', 'db']);
});

test('services that cannot be meshed are skipped with a reason and left exactly as they were', () => {
  const input = model({
    host: { image: 'h', network_mode: 'host' },
    none: { image: 'n', network_mode: 'none' },
    side: { image: 's', network_mode: 'service:app' },
    ctr: { image: 'c', network_mode: 'container:abc' },
    named: { image: 'x', container_name: 'fixed', scale: 2 },
    ext: { image: 'e', external_links: ['redis_1'] },
    app: { image: 'a' },
  });
  const r = rewriteCompose(input, opts);
  assert.deepEqual(r.meshed, ['app']);
  assert.deepEqual(r.skipped.map((s) => s.service), ['host', 'none', 'side', 'ctr', 'named', 'ext']);
  for (const s of r.skipped) {
    assert.deepEqual(r.model.services[s.service], input.services[s.service]);
    assert.equal(r.model.services[`${s.service}-mesh`], undefined);
  }
  assert.match(r.skipped[2]!.reason, /shares app's network namespace.*app-mesh/);
  assert.match(r.skipped[4]!.reason, /container_name with 2 replicas/);
  // Unmeshed services still on the user's networks are reached through the sidecar, as a passthrough.
  assert.deepEqual(aliases(r, 'app-mesh', 'app-net'), ['ext', 'named']);
  assert.equal(svc(r, 'app-mesh').labels['mesh.passthrough'], 'ext,named');
});

test('container_name on a single-replica service is fine', () => {
  const r = rewriteCompose(model({ db: { image: 'd', container_name: 'db' } }), opts);
  assert.deepEqual(r.meshed, ['db']);
  assert.equal(svc(r, 'db').container_name, 'db');
  assert.equal(svc(r, 'db-mesh').container_name, undefined);
});

test('--exclude leaves a service out on purpose; others reach it as a passthrough', () => {
  const input = model({ api: { image: 'a' }, legacy: { image: 'l', ports: ['9000:9000'] } });
  const r = rewriteCompose(input, { ...opts, exclude: ['legacy'] });
  assert.deepEqual(r.meshed, ['api']);
  assert.deepEqual(r.excluded, ['legacy']);
  assert.deepEqual(r.model.services.legacy, input.services.legacy);
  assert.equal(svc(r, 'api-mesh').labels['mesh.passthrough'], 'legacy');
  assert.throws(() => rewriteCompose(input, { ...opts, exclude: ['nope'] }), (e: MeshError) => e.code === 'MESH_ERR_USAGE' && /no service "nope"/.test(e.message));
});

test('refuses names that would collide, and files that are already meshctl output', () => {
  const code = (e: unknown) => (e as MeshError).code === 'MESH_ERR_COMPOSE_UNSUPPORTED';
  assert.throws(() => rewriteCompose(model({ api: { image: 'a' }, 'api-mesh': { image: 'b' } }), opts), code);
  assert.throws(() => rewriteCompose(model({ api: { image: 'a' } }, { networks: { 'api-net': {} } }), opts), code);
  assert.throws(() => rewriteCompose(model({ api: { image: 'a' } }, { networks: { mesh: {} } }), opts), (e: MeshError) => code(e) && /network "mesh"/.test(e.message));
  const renamed = rewriteCompose(model({ api: { image: 'a' } }, { networks: { mesh: {} } }), { ...opts, meshNetwork: 'mesh-dp' });
  assert.ok((renamed.model.services['api-mesh']!.networks as Obj)['mesh-dp'] === null);
  const once = rewriteCompose(model({ api: { image: 'a' } }), opts).model;
  assert.throws(() => rewriteCompose(once, opts), (e: MeshError) => code(e) && /meshctl output/.test(e.message));
});

test('S-net subnets are distinct, inside the range, and avoid the user subnets', () => {
  const services = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`s${i}`, { image: 'x' }]));
  const user = { networks: { lan: { ipam: { config: [{ subnet: '10.99.0.0/24' }] } } } };
  const r = rewriteCompose(model(services, user), { ...opts, subnets: { range: '10.99.0.0/23', prefix: 28 } });
  const subnets = Object.values(r.subnets);
  assert.equal(new Set(subnets).size, 6);
  for (const s of subnets) assert.match(s, /^10\.99\.1\.\d+\/28$/);
  const net = (r.model.networks as Record<string, { ipam: { config: Array<{ subnet: string }> } }>)['s0-net']!;
  assert.equal(net.ipam.config[0]!.subnet, r.subnets.s0);
});

test('the input model is not mutated', () => {
  const input = model({ a: { image: 'a', ports: ['1:1'] }, b: { image: 'b' } });
  const before = JSON.stringify(input);
  rewriteCompose(input, opts);
  assert.equal(JSON.stringify(input), before);
});

test('ports from the image (build context EXPOSE) join mesh.ports; a service with none is still meshed', () => {
  const r = rewriteCompose(model({ api: { build: { context: '/x' }, expose: ['9000'] }, worker: { image: 'w' } }), { ...opts, imagePorts: { api: ['3000/tcp', '9000/tcp'] } });
  assert.equal(svc(r, 'api').labels['mesh.ports'], '9000/tcp,3000/tcp');
  assert.deepEqual(r.ports, { api: ['9000/tcp', '3000/tcp'], worker: [] });
  assert.deepEqual(r.meshed, ['api', 'worker']);
  assert.equal(svc(r, 'worker').labels['mesh.ports'], undefined);
});

test('sidecarEnv adds environment to each sidecar (what `up` needs: controller address, token)', () => {
  const r = rewriteCompose(model({ api: { image: 'a' } }), { ...opts, sidecarEnv: (s) => ({ MESH_TOKEN: `t-${s}` }) });
  assert.deepEqual(svc(r, 'api-mesh').environment, { MESH_SERVICE: 'api', MESH_PROJECT: 'shop', NODE_OPTIONS: MESH_NODE_OPTIONS, MESH_TOKEN: 't-api' });
});
