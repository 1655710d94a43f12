// `meshctl up --observability`: check that the Prometheus, Grafana and Jaeger
// images can be had, pick their host ports, write their config files under
// .mesh/observability/ and return them as compose services for the generated
// file. An image that is neither in the engine nor pullable is a warning and
// its service is left out: the rest of the mesh starts as usual, exit code
// unchanged (the mesh does not need them; a failed pull halfway through
// `compose up` would be worse).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeAtomic } from '../../shared/write-atomic.ts';
import { freePort, portBusy } from '../up/host-ports.ts';
import { projectContainers, publishedPorts } from '../up/docker-facts.ts';
import { checkImages, type ImageCheck } from './observability-images.ts';
import { buildObservability, JAEGER_OTLP_HTTP_PORT, JAEGER_SERVICE, observabilityImages, OBSERVABILITY_PARTS, UI_PORTS, type ObservabilityPart } from './observability-services.ts';

/** What the sidecars get as telemetry.tracing.otlpEndpoint (they post to <it>/v1/traces). */
const jaegerOtlpBase = () => `http://${JAEGER_SERVICE}:${JAEGER_OTLP_HTTP_PORT}`;

/** observability/ of this package (beside src/ and dist/). */
const ASSETS = new URL('../../../observability/', import.meta.url);

const NAMES: Record<ObservabilityPart, string> = { prometheus: 'Prometheus', grafana: 'Grafana', jaeger: 'Jaeger' };

export interface ObservabilityUpOptions {
  project: string;
  /** Absolute .mesh/ folder. */
  stateDir: string;
  meshNetwork: string;
  controller: { service: string; port: number };
  log: (line: string) => void;
  /** Tests: fixed image checks instead of asking Docker and the registry. */
  check?: (images: string[]) => Promise<ImageCheck[]>;
}

const PortsFile = z.record(z.string(), z.number().int().min(1).max(65535));

/** What to say when images are missing: which, why, and how to get them. */
export function missingImagesMessage(missing: ImageCheck[], skipped: ObservabilityPart[]): string {
  const envOf = (p: ObservabilityPart) => `MESH_${p.toUpperCase()}_IMAGE`;
  const lines = [
    `warning: --observability: leaving out ${skipped.map((p) => NAMES[p]).join(', ')}: ${missing.length === 1 ? 'this image is' : 'these images are'} not in the Docker engine and cannot be pulled:`,
    ...missing.map((m) => `    ${m.image}  (${m.why ?? 'not pullable'})`),
    '  to get them: run `docker pull <image>` where a registry answers (here, or elsewhere then `docker save <image> | docker load` here),',
    `  or point ${skipped.map(envOf).join(' / ')} at an image this engine has; then run \`meshctl up --observability\` again.`,
    '  The mesh itself starts as usual.',
  ];
  if (skipped.includes('grafana') && !missing.some((m) => m.image === observabilityImages().grafana)) lines.splice(-1, 0, '  (Grafana is left out with Prometheus: its dashboard reads from Prometheus.)');
  return lines.join('\n');
}

export async function observabilityForUp(o: ObservabilityUpOptions): Promise<Record<string, Record<string, unknown>>> {
  const images = observabilityImages();
  const checks = await (o.check ?? ((i: string[]) => checkImages(i)))(OBSERVABILITY_PARTS.map((p) => images[p]));
  const ok = (p: ObservabilityPart) => checks.find((c) => c.image === images[p])?.pullable === true;
  const parts = OBSERVABILITY_PARTS.filter((p) => ok(p) && (p !== 'grafana' || ok('prometheus')));
  const skipped = OBSERVABILITY_PARTS.filter((p) => !parts.includes(p));
  if (skipped.length) o.log(missingImagesMessage(checks.filter((c) => !c.pullable), skipped));
  if (!parts.length) return {};

  const dir = join(o.stateDir, 'observability');
  const hostPorts = await pickHostPorts(o.project, join(dir, 'ports.json'), parts);
  const asset = (p: string) => readFileSync(new URL(p, ASSETS), 'utf8');
  const built = buildObservability({
    parts,
    images,
    hostPorts,
    dir,
    controller: o.controller,
    meshNetwork: o.meshNetwork,
    grafana: {
      dashboardJson: asset('grafana/mesh-dashboard.json'),
      datasourceYaml: asset('grafana/provisioning/datasources/mesh-prometheus.yaml'),
      dashboardsYaml: asset('grafana/provisioning/dashboards/mesh.yaml'),
    },
  });
  for (const [rel, content] of Object.entries(built.files)) writeAtomic(join(dir, rel), content);
  const urls = Object.entries(built.urls).map(([p, u]) => `${NAMES[p as ObservabilityPart]} ${u}`);
  o.log(`observability: ${urls.join(', ')}`);
  if (built.otlpEndpoint) {
    o.log(`observability: sidecars export spans to Jaeger (${built.otlpEndpoint}) unless mesh.config.ts sets telemetry.tracing`);
  }
  return built.services;
}

/**
 * `up`'s extra services with --observability added: the add-ons, and, when Jaeger runs, the controller told
 * (MESH_OTLP_ENDPOINT) to make it the sidecars' span export unless mesh.config.ts sets telemetry.tracing.
 */
export async function withObservability(
  enabled: boolean | undefined,
  base: Record<string, Record<string, unknown>>,
  o: ObservabilityUpOptions,
): Promise<Record<string, Record<string, unknown>>> {
  if (!enabled) return base;
  const added = await observabilityForUp(o);
  const out = { ...base, ...added };
  const ctl = base[o.controller.service];
  if (ctl && added[JAEGER_SERVICE]) {
    const env = (ctl.environment ?? {}) as Record<string, string>;
    out[o.controller.service] = { ...ctl, environment: { ...env, MESH_OTLP_ENDPOINT: jaegerOtlpBase() } };
  }
  return out;
}

/**
 * Host ports for the UIs: the one used last time (kept in ports.json) if it is still free or ours, else a
 * free ephemeral port, as for the controller's API. Not 3000/9090: the user's own services (not started
 * yet, so not seen as busy) often publish those. Stable, so `up` again recreates nothing.
 */
async function pickHostPorts(project: string, file: string, parts: ObservabilityPart[]): Promise<Record<ObservabilityPart, number>> {
  let previous: Record<string, number> = {};
  try {
    previous = PortsFile.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    // First run, or a file we cannot read: pick afresh.
  }
  let ours = new Set<number>();
  try {
    ours = new Set(
      projectContainers(project)
        .filter((c) => c.role === 'observability')
        .flatMap(publishedPorts)
        .map((a) => Number(a.split(':').pop())),
    );
  } catch {
    // No engine to ask (`up` has checked it already; tests may have none): only free ports count.
  }
  const out = { ...UI_PORTS };
  for (const p of parts) {
    const last = previous[p];
    out[p] = last !== undefined && (ours.has(last) || !(await portBusy('127.0.0.1', last))) ? last : await freePort();
  }
  writeAtomic(file, JSON.stringify(Object.fromEntries(parts.map((p) => [p, out[p]])), null, 2) + '\n');
  return out;
}
