// mesh.config.ts `telemetry` reaches every proxy's snapshot; without it the snapshot keeps its defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildSnapshots } from '../../../src/controller/snapshot/build-snapshots.ts';
import { MeshConfig } from '../../../src/shared/mesh-config.ts';
import { StaticDiscoveryFile, Overrides } from '../../../src/shared/api.ts';

const fixture = (f: string) => JSON.parse(readFileSync(new URL(`../../fixtures/controller/${f}`, import.meta.url), 'utf8'));
const registry = StaticDiscoveryFile.parse(fixture('shop-registry.json')).workloads;
const build = (extra: object) => buildSnapshots({ project: 'shop', config: MeshConfig.parse({ ...fixture('shop-config.json'), ...extra }), registry, overrides: Overrides.parse({}) });

test('telemetry.tracing from mesh.config.ts is in every snapshot', () => {
  const { snapshots, errors } = build({ telemetry: { tracing: { otlpEndpoint: 'http://jaeger:4318', sampleRate: 0.25 } } });
  assert.deepEqual(errors, []);
  for (const s of snapshots.values()) assert.deepEqual(s.telemetry, { accessLog: true, tracing: { otlpEndpoint: 'http://jaeger:4318', sampleRate: 0.25 } });
  const off = build({ telemetry: { accessLog: false } });
  for (const s of off.snapshots.values()) assert.deepEqual(s.telemetry, { accessLog: false, tracing: { sampleRate: 1 } });
});

test('no telemetry section: the snapshot defaults, unchanged', () => {
  for (const s of build({}).snapshots.values()) assert.deepEqual(s.telemetry, { accessLog: true, tracing: { sampleRate: 1 } });
});

test('a bad endpoint or rate is refused with the field named', () => {
  const r = MeshConfig.safeParse({ telemetry: { tracing: { otlpEndpoint: 'jaeger:4318', sampleRate: 2 } } });
  assert.equal(r.success, false);
  const paths = r.error!.issues.map((i) => i.path.join('.'));
  assert.deepEqual(paths.sort(), ['telemetry.tracing.otlpEndpoint', 'telemetry.tracing.sampleRate']);
});
