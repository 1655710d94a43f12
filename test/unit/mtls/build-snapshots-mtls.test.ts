// The snapshot builder turns sidecar-to-sidecar traffic into mTLS once the
// mesh has a CA: strict by default, permissive or disabled per service or
// mesh-wide, plaintext kept (and marked) on ports published to the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildSnapshots, type BuildInput } from '../../../src/controller/snapshot/build-snapshots.ts';
import { MeshConfig, type MeshConfigInput } from '../../../src/shared/mesh-config.ts';
import { StaticDiscoveryFile, Overrides } from '../../../src/shared/api.ts';

const fixture = (f: string) => JSON.parse(readFileSync(new URL(`../../fixtures/controller/${f}`, import.meta.url), 'utf8'));
const baseConfig = fixture('shop-config.json') as MeshConfigInput;
const registry = StaticDiscoveryFile.parse(fixture('shop-registry.json')).workloads;
const certs = { trustBundlePem: 'BUNDLE', chains: {} };

function build(over: Partial<BuildInput> & { configInput?: MeshConfigInput } = {}) {
  const { configInput, ...rest } = over;
  return buildSnapshots({ project: 'shop', config: MeshConfig.parse(configInput ?? baseConfig), registry, overrides: Overrides.parse({}), certs, ...rest });
}

test('with a CA: inbound listeners are strict and callers originate mTLS to the callee identity', () => {
  const { snapshots, errors } = build();
  assert.deepEqual(errors, []);
  const product = snapshots.get('product-mesh-1')!;
  assert.deepEqual(product.listeners.find((l) => l.name === 'in:8080')!.tls, { mode: 'strict' });
  const web = snapshots.get('web-mesh-1')!;
  assert.deepEqual(web.clusters.find((c) => c.name === 'out:product:8080')!.tls, { enabled: true, spiffeId: 'spiffe://mesh.local/compose/shop/svc/product' });
  // Opaque TCP too: db's inbound is strict, callers wrap TCP in TLS.
  assert.deepEqual(snapshots.get('db-mesh-1')!.listeners.find((l) => l.name === 'in:5432')!.tls, { mode: 'strict' });
  assert.equal(web.clusters.find((c) => c.name === 'out:db:5432')!.tls!.enabled, true);
  // Inbound clusters (sidecar → its own app on S-net) stay plaintext.
  assert.equal(product.clusters.find((c) => c.name === 'in:product:8080')!.tls, undefined);
});

test('without a CA nothing changes: no tls on listeners or clusters', () => {
  const web = build({ certs: undefined }).snapshots.get('web-mesh-1')!;
  assert.ok(web.listeners.every((l) => l.tls === undefined));
  assert.ok(web.clusters.every((c) => c.tls === undefined));
});

test('mode per service and mesh-wide: permissive, disabled', () => {
  const cfg = { ...baseConfig, defaults: { ...baseConfig.defaults, mtls: 'permissive' as const }, services: { ...baseConfig.services, db: { ...baseConfig.services!.db, mtls: 'disabled' as const } } };
  const { snapshots } = build({ configInput: cfg });
  assert.deepEqual(snapshots.get('product-mesh-1')!.listeners.find((l) => l.name === 'in:8080')!.tls, { mode: 'permissive' });
  assert.deepEqual(snapshots.get('db-mesh-1')!.listeners.find((l) => l.name === 'in:5432')!.tls, { mode: 'disabled' });
  // Nobody originates TLS towards a callee that turned it off.
  assert.equal(snapshots.get('web-mesh-1')!.clusters.find((c) => c.name === 'out:db:5432')!.tls, undefined);
});

test('a port published to the host keeps a plaintext-accepting listener, marked hostPublished', () => {
  const published = registry.map((w) => (w.id === 'web-mesh-1' ? { ...w, published: [8080] } : w));
  const web = build({ registry: published }).snapshots.get('web-mesh-1')!;
  assert.deepEqual(web.listeners.find((l) => l.name === 'in:8080')!.tls, { mode: 'permissive', hostPublished: true });
  // Other services stay strict.
  assert.deepEqual(build({ registry: published }).snapshots.get('product-mesh-1')!.listeners.find((l) => l.name === 'in:8080')!.tls, { mode: 'strict' });
});
