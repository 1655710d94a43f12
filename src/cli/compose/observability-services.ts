// `meshctl up --observability` as compose services, a pure function: Prometheus
// (scraping the controller and, through the controller's HTTP service
// discovery, every sidecar's admin port), Grafana (datasource and dashboard
// provisioned from observability/grafana/) and Jaeger (OTLP receiver), on the
// mesh network, UIs published on 127.0.0.1 only. Files they mount are returned
// as path → content; the caller writes them under .mesh/observability/.
import { stringify } from 'yaml';
import { Labels } from '../../shared/names.ts';

export const PROMETHEUS_SERVICE = 'mesh-prometheus';
export const GRAFANA_SERVICE = 'mesh-grafana';
export const JAEGER_SERVICE = 'mesh-jaeger';

export type ObservabilityPart = 'prometheus' | 'grafana' | 'jaeger';
export const OBSERVABILITY_PARTS: readonly ObservabilityPart[] = ['prometheus', 'grafana', 'jaeger'];

/** Pinned tags (Prometheus ≥ 2.28 for http_sd); `MESH_<PART>_IMAGE` picks another, e.g. one mirrored locally. */
export function observabilityImages(env: NodeJS.ProcessEnv = process.env): Record<ObservabilityPart, string> {
  return {
    prometheus: env.MESH_PROMETHEUS_IMAGE || 'prom/prometheus:v2.53.0',
    grafana: env.MESH_GRAFANA_IMAGE || 'grafana/grafana:11.1.0',
    jaeger: env.MESH_JAEGER_IMAGE || 'jaegertracing/all-in-one:1.58',
  };
}

/** Container ports of the UIs (published on 127.0.0.1) and Jaeger's OTLP/HTTP receiver (mesh network only). */
export const UI_PORTS: Record<ObservabilityPart, number> = { prometheus: 9090, grafana: 3000, jaeger: 16686 };
export const JAEGER_OTLP_HTTP_PORT = 4318;

export interface ObservabilityOptions {
  /** The parts to add (those whose image is available). Grafana needs Prometheus. */
  parts: ObservabilityPart[];
  images: Record<ObservabilityPart, string>;
  /** Host port per part, published on 127.0.0.1. */
  hostPorts: Record<ObservabilityPart, number>;
  /** Absolute .mesh/observability folder (bind mounts come from there). */
  dir: string;
  /** The controller's compose service and API port (Prometheus scrapes it and asks it for the sidecars). */
  controller: { service: string; port: number };
  meshNetwork: string;
  /** The mesh dashboard and provisioning files (contents of observability/grafana/). */
  grafana: { dashboardJson: string; datasourceYaml: string; dashboardsYaml: string };
  scrapeInterval?: string;
}

export interface ObservabilityResult {
  services: Record<string, Record<string, unknown>>;
  /** Path relative to `dir` → content. */
  files: Record<string, string>;
  /** What to print: where each UI answers, and the OTLP endpoint for traces. */
  urls: Partial<Record<ObservabilityPart, string>>;
  otlpEndpoint?: string;
}

export function prometheusConfig(o: Pick<ObservabilityOptions, 'controller' | 'scrapeInterval'>): string {
  const interval = o.scrapeInterval ?? '5s';
  const api = `${o.controller.service}:${o.controller.port}`;
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval },
    scrape_configs: [
      { job_name: 'mesh-controller', static_configs: [{ targets: [api] }] },
      // The controller knows every sidecar replica's admin address (they report it when they subscribe),
      // canary containers and scaled sidecars included; unauthenticated, like /metrics.
      { job_name: 'mesh-sidecars', http_sd_configs: [{ url: `http://${api}/v1/metrics/targets`, refresh_interval: interval }] },
    ],
  });
}

export function buildObservability(o: ObservabilityOptions): ObservabilityResult {
  const parts = new Set(o.parts);
  if (!parts.has('prometheus')) parts.delete('grafana');
  const services: ObservabilityResult['services'] = {};
  const files: ObservabilityResult['files'] = {};
  const urls: ObservabilityResult['urls'] = {};
  const base = (part: ObservabilityPart) => ({
    image: o.images[part],
    labels: { [Labels.role]: 'observability' },
    networks: { [o.meshNetwork]: null },
    ports: [`127.0.0.1:${o.hostPorts[part]}:${UI_PORTS[part]}`],
    restart: 'unless-stopped',
  });
  if (parts.has('prometheus')) {
    files['prometheus/prometheus.yml'] = prometheusConfig(o);
    services[PROMETHEUS_SERVICE] = {
      ...base('prometheus'),
      command: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', '--storage.tsdb.retention.time=2d'],
      volumes: [`${o.dir}/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro`],
      depends_on: [o.controller.service],
    };
    urls.prometheus = `http://127.0.0.1:${o.hostPorts.prometheus}`;
  }
  if (parts.has('grafana')) {
    files['grafana/provisioning/datasources/mesh-prometheus.yaml'] = o.grafana.datasourceYaml;
    files['grafana/provisioning/dashboards/mesh.yaml'] = o.grafana.dashboardsYaml;
    files['grafana/dashboards/mesh-dashboard.json'] = o.grafana.dashboardJson;
    services[GRAFANA_SERVICE] = {
      ...base('grafana'),
      environment: {
        // A local, loopback-only Grafana: anyone who can reach 127.0.0.1 may look, not change (admin/admin to edit).
        GF_AUTH_ANONYMOUS_ENABLED: 'true',
        GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
        GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: '/var/lib/grafana/dashboards/mesh/mesh-dashboard.json',
        GF_ANALYTICS_REPORTING_ENABLED: 'false',
        GF_ANALYTICS_CHECK_FOR_UPDATES: 'false',
      },
      volumes: [`${o.dir}/grafana/provisioning:/etc/grafana/provisioning:ro`, `${o.dir}/grafana/dashboards:/var/lib/grafana/dashboards/mesh:ro`],
      depends_on: [PROMETHEUS_SERVICE],
    };
    urls.grafana = `http://127.0.0.1:${o.hostPorts.grafana}`;
  }
  let otlpEndpoint: string | undefined;
  if (parts.has('jaeger')) {
    services[JAEGER_SERVICE] = { ...base('jaeger'), environment: { COLLECTOR_OTLP_ENABLED: 'true' } };
    urls.jaeger = `http://127.0.0.1:${o.hostPorts.jaeger}`;
    // Reachable from every sidecar (they are all on the mesh network).
    otlpEndpoint = `http://${JAEGER_SERVICE}:${JAEGER_OTLP_HTTP_PORT}/v1/traces`;
  }
  return { services, files, urls, ...(otlpEndpoint ? { otlpEndpoint } : {}) };
}
