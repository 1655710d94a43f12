// What a rollout's override becomes in the snapshots: the mirror on the
// service's catch-all routes, and the test headers every proxy propagates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildSnapshots } from '../../../src/controller/snapshot/build-snapshots.ts';
import { MeshConfig } from '../../../src/shared/mesh-config.ts';
import { Overrides, StaticDiscoveryFile } from '../../../src/shared/api.ts';

const fixture = (f: string) => JSON.parse(readFileSync(new URL(`../../fixtures/controller/${f}`, import.meta.url), 'utf8'));
const config = MeshConfig.parse(fixture('shop-config.json'));
const registry = StaticDiscoveryFile.parse(fixture('shop-registry.json')).workloads;

test('mirror goes on the catch-all inbound routes of the service only; test headers go to every proxy', () => {
  const overrides = Overrides.parse({ services: { product: { weights: { v1: 100 }, mirror: { version: 'v2', percent: 25 }, propagateHeaders: ['X-Canary'] } } });
  const { snapshots, errors } = buildSnapshots({ project: 'shop', config, registry, overrides });
  assert.deepEqual(errors, []);
  const product = snapshots.get('product-mesh-1')!;
  const routes = product.listeners.find((l) => l.direction === 'inbound')!.routes;
  const byName = Object.fromEntries(routes.map((r) => [r.name.split(':').at(-1), r.mirror]));
  assert.deepEqual(byName.default, { cluster: 'in:product:8080:v2', percent: 25 });
  assert.ok(product.clusters.some((c) => c.name === 'in:product:8080:v2'), 'the mirror subset is a cluster of the snapshot');
  for (const [, snap] of snapshots) assert.deepEqual(snap.headerPropagation, { headers: ['x-canary'], ttlMs: 60_000, maxEntries: 10_000 });
  const web = snapshots.get('web-mesh-1')!;
  assert.ok(web.listeners.every((l) => l.routes.every((r) => r.mirror === undefined)), 'other services copy nothing');

  const none = buildSnapshots({ project: 'shop', config, registry, overrides: Overrides.parse({ services: { product: { mirror: { version: 'v9', percent: 100 } } } }) });
  assert.match(none.errors.join('\n'), /product: mirror: no replica runs version v9; nothing is copied/);
  assert.equal(none.snapshots.get('product-mesh-1')!.headerPropagation, undefined);
});
