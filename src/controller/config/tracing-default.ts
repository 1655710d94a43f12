// A default span-export endpoint from the environment (MESH_OTLP_ENDPOINT,
// set by `meshctl up --observability` to its Jaeger service), used only when
// mesh.config.ts says nothing about tracing: the user's setting always wins.
import type { MeshConfig } from '../../shared/mesh-config.ts';

export function applyTracingDefault(config: MeshConfig, endpoint = process.env.MESH_OTLP_ENDPOINT): MeshConfig {
  if (!endpoint || config.telemetry?.tracing) return config;
  return { ...config, telemetry: { ...config.telemetry, tracing: { otlpEndpoint: endpoint, sampleRate: 1 } } };
}
