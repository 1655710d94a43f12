import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildSnapshots, type BuildInput } from '../../../src/controller/snapshot/build-snapshots.ts';
import { MeshConfig } from '../../../src/shared/mesh-config.ts';
import { StaticDiscoveryFile, Overrides, type Workload } from '../../../src/shared/api.ts';
import { canonicalJson, type Snapshot } from '../../../src/shared/snapshot.ts';

const fixture = (f: string) => JSON.parse(readFileSync(new URL(`../../fixtures/controller/${f}`, import.meta.url), 'utf8'));
const config = MeshConfig.parse(fixture('shop-config.json'));
const registry = StaticDiscoveryFile.parse(fixture('shop-registry.json')).workloads;

function build(over: Partial<BuildInput> = {}) {
  return buildSnapshots({ project: 'shop', config, registry, overrides: Overrides.parse({}), ...over });
}
const listener = (s: Snapshot, name: string) => s.listeners.find((l) => l.name === name);
const cluster = (s: Snapshot, name: string) => s.clusters.find((c) => c.name === name);

test('one snapshot per proxy replica, none for apps', () => {
  const { snapshots } = build();
  assert.deepEqual([...snapshots.keys()].sort(), ['db-mesh-1', 'payment-mesh-1', 'product-mesh-1', 'product-mesh-2', 'web-mesh-1', 'worker-mesh-1']);
});

test('inbound: listener on the mesh address, cluster = app replicas on the private network', () => {
  const web = build().snapshots.get('web-mesh-1')!;
  const inb = listener(web, 'in:8080')!;
  assert.equal(inb.address, '10.0.0.10');
  assert.equal(inb.direction, 'inbound');
  assert.deepEqual(cluster(web, 'in:web:8080')!.endpoints.map((e) => `${e.address}:${e.port}`), ['10.1.0.2:8080']);
});

test('outbound: one listener per callee port on the private address, routed by host and aliases', () => {
  const web = build().snapshots.get('web-mesh-1')!;
  const out = listener(web, 'out:8080')!;
  assert.equal(out.address, '10.1.0.3');
  assert.deepEqual(out.routes.map((r) => r.name), ['out:payment:8080', 'out:product:8080']);
  const product = out.routes.find((r) => r.service === 'product')!;
  // compose alias kept, container-id alias dropped
  assert.deepEqual(product.match.hosts, ['catalog', 'product']);
  assert.deepEqual(cluster(web, 'out:product:8080')!.endpoints.map((e) => e.address), ['10.0.0.20', '10.0.0.21']);
  assert.equal(product.retries?.attempts, 1);
  assert.equal(cluster(web, 'out:payment:8080')!.connectionLimits.maxConnections, 10);
  assert.ok(listener(web, 'out:9090'), 'second port of payment');
});

test('each proxy gets only its own inbound side and the services it may call', () => {
  const { snapshots } = build();
  const product = snapshots.get('product-mesh-1')!;
  // payment allows only web: product's proxy gets no route to it
  assert.equal(cluster(product, 'out:payment:8080'), undefined);
  assert.ok(cluster(snapshots.get('web-mesh-1')!, 'out:payment:8080'));
  assert.ok(product.clusters.every((c) => !c.name.startsWith('in:') || c.name.startsWith('in:product:')));
});

test('two versions: a weighted split over version subsets; an unhealthy endpoint is marked', () => {
  const product = build().snapshots.get('product-mesh-1')!;
  const inb = listener(product, 'in:8080')!;
  assert.deepEqual(inb.routes[0]!.destinations, [
    { cluster: 'in:product:8080:v1', weight: 90 },
    { cluster: 'in:product:8080:v2', weight: 10 },
  ]);
  assert.deepEqual(cluster(product, 'in:product:8080:v2')!.endpoints.map((e) => [e.address, e.healthy, e.labels.version]), [['10.2.0.4', false, 'v2']]);
  assert.deepEqual(cluster(product, 'in:product:8080:v1')!.endpoints.map((e) => e.healthy), [true]);
});

test('canary weights from overrides replace the catch-all split', () => {
  const overrides = Overrides.parse({ services: { product: { weights: { v1: 50, v2: 50 } } } });
  const product = build({ overrides }).snapshots.get('product-mesh-1')!;
  const routes = listener(product, 'in:8080')!.routes;
  assert.deepEqual(routes.map((r) => r.destinations.map((d) => d.weight)), [[50, 50], [50, 50]]);
  const base = build().snapshots.get('product-mesh-1')!;
  assert.notEqual(product.hash, base.hash);
});

test('a service with no ports has no inbound listener and is nobody\'s callee', () => {
  const { snapshots } = build();
  const worker = snapshots.get('worker-mesh-1')!;
  assert.equal(worker.listeners.filter((l) => l.direction === 'inbound').length, 0);
  assert.ok(worker.listeners.some((l) => l.direction === 'outbound'));
  for (const s of snapshots.values()) assert.ok(!s.clusters.some((c) => c.service === 'worker'));
});

test('an opaque TCP port gets a tcp listener', () => {
  const web = build().snapshots.get('web-mesh-1')!;
  const l = listener(web, 'out:5432')!;
  assert.equal(l.protocol, 'tcp');
  assert.deepEqual(l.tcp!.destinations, [{ cluster: 'out:db:5432', weight: 1 }]);
  assert.equal(cluster(web, 'out:db:5432')!.protocol, 'tcp');
});

test('two TCP upstreams on one port are an error naming both; the listener is left out', () => {
  const extra: Workload[] = [
    { id: 'cache-app-1', service: 'cache', version: 'v1', role: 'app', healthy: true, addresses: { 'cache-net': '10.6.0.2' }, aliases: {}, ports: [] },
    { id: 'cache-mesh-1', service: 'cache', version: 'v1', role: 'proxy', healthy: true, addresses: { mesh: '10.0.0.60', 'cache-net': '10.6.0.3' }, aliases: {}, ports: [] },
  ];
  const cfg = MeshConfig.parse({ ...fixture('shop-config.json'), services: { ...fixture('shop-config.json').services, cache: { protocol: 'tcp', ports: [5432] } } });
  const r = build({ config: cfg, registry: [...registry, ...extra] });
  assert.ok(r.errors.some((e) => e.startsWith('web: port 5432:') && e.includes('cache') && e.includes('db')), r.errors.join('\n'));
  assert.equal(listener(r.snapshots.get('web-mesh-1')!, 'out:5432'), undefined);
});

test('a removed service disappears from every snapshot', () => {
  const { snapshots } = build({ registry: registry.filter((w) => w.service !== 'product') });
  assert.ok(!snapshots.has('product-mesh-1'));
  for (const s of snapshots.values()) assert.ok(!s.clusters.some((c) => c.service === 'product'), s.node.service);
});

test('the same inputs in any order give byte-identical snapshots', () => {
  const a = build();
  const shuffled = [...registry].reverse().map((w) => ({ ...w, addresses: Object.fromEntries(Object.entries(w.addresses).reverse()) }));
  const reorderedConfig = MeshConfig.parse({ ...fixture('shop-config.json'), services: Object.fromEntries(Object.entries(fixture('shop-config.json').services).reverse()) });
  const b = build({ registry: shuffled, config: reorderedConfig });
  assert.deepEqual([...a.snapshots.keys()].sort(), [...b.snapshots.keys()].sort());
  for (const [id, snap] of a.snapshots) assert.equal(canonicalJson(b.snapshots.get(id)), canonicalJson(snap), id);
  assert.match(a.snapshots.get('web-mesh-1')!.hash!, /^[0-9a-f]{16}$/);
});

test('an unhealthy app endpoint changes the hash; a restart of an unrelated proxy does not change others', () => {
  const a = build();
  const healthy = build({ registry: registry.map((w) => (w.id === 'product-app-2' ? { ...w, healthy: true } : w)) });
  assert.notEqual(a.snapshots.get('product-mesh-1')!.hash, healthy.snapshots.get('product-mesh-1')!.hash);
  assert.equal(a.snapshots.get('web-mesh-1')!.hash, healthy.snapshots.get('web-mesh-1')!.hash);
});

test('identity material, when given, goes to each proxy for its own service only', () => {
  const certs = { trustBundlePem: 'BUNDLE', chains: { web: 'WEB-CHAIN', product: 'PRODUCT-CHAIN' } };
  const { snapshots } = build({ certs });
  assert.deepEqual(snapshots.get('web-mesh-1')!.tls, { trustDomain: 'mesh.local', trustBundlePem: 'BUNDLE', certChainPem: 'WEB-CHAIN' });
  assert.equal(snapshots.get('product-mesh-2')!.tls!.certChainPem, 'PRODUCT-CHAIN');
  assert.equal(build().snapshots.get('web-mesh-1')!.tls, undefined);
});
