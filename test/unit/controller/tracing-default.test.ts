// MESH_OTLP_ENDPOINT (set by `meshctl up --observability`) is the span export
// only where mesh.config.ts says nothing about tracing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshConfig } from '../../../src/shared/mesh-config.ts';
import { applyTracingDefault } from '../../../src/controller/config/tracing-default.ts';

test('the environment default fills an empty tracing setting and never overrides the user', () => {
  const none = MeshConfig.parse({});
  assert.equal(applyTracingDefault(none, undefined), none);
  assert.deepEqual(applyTracingDefault(none, 'http://mesh-jaeger:4318').telemetry, { tracing: { otlpEndpoint: 'http://mesh-jaeger:4318', sampleRate: 1 } });
  const logsOnly = MeshConfig.parse({ telemetry: { accessLog: false } });
  assert.deepEqual(applyTracingDefault(logsOnly, 'http://mesh-jaeger:4318').telemetry, { accessLog: false, tracing: { otlpEndpoint: 'http://mesh-jaeger:4318', sampleRate: 1 } });
  const own = MeshConfig.parse({ telemetry: { tracing: { otlpEndpoint: 'http://collector:4318', sampleRate: 0.1 } } });
  assert.equal(applyTracingDefault(own, 'http://mesh-jaeger:4318'), own);
  // The result is still a valid config.
  assert.doesNotThrow(() => MeshConfig.parse(applyTracingDefault(none, 'http://mesh-jaeger:4318')));
});
