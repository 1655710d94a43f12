// `meshctl up --observability` without pulling anything: the services, files
// and volumes the rewrite adds, the warning when images cannot be had, and
// real compose accepting the generated file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { buildObservability, GRAFANA_SERVICE, JAEGER_SERVICE, observabilityImages, PROMETHEUS_SERVICE } from '../../../src/cli/compose/observability-services.ts';
import { observabilityForUp, withObservability } from '../../../src/cli/compose/observability-up.ts';
import { registryOf, type ImageCheck } from '../../../src/cli/compose/observability-images.ts';
import { inject } from '../../../src/cli/compose/inject.ts';
import { findCompose } from '../../../src/cli/compose/compose-cli.ts';
import { runCompose } from '../../../src/cli/compose/run-compose.ts';
import { controllerService } from '../../../src/cli/up/controller-service.ts';

type Obj = Record<string, any>;
const images = observabilityImages({});
const opts = {
  images,
  hostPorts: { prometheus: 41001, grafana: 41002, jaeger: 41003 },
  dir: '/p/.mesh/observability',
  controller: { service: 'mesh-controller', port: 15010 },
  meshNetwork: 'mesh',
  grafana: { dashboardJson: '{"uid":"d"}', datasourceYaml: 'ds: 1\n', dashboardsYaml: 'db: 1\n' },
};

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-obs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the three services: images, UIs on 127.0.0.1 only, the mesh network, config mounted read-only', () => {
  const r = buildObservability({ ...opts, parts: ['prometheus', 'grafana', 'jaeger'] });
  assert.deepEqual(Object.keys(r.services).sort(), [GRAFANA_SERVICE, JAEGER_SERVICE, PROMETHEUS_SERVICE]);
  const prom = r.services[PROMETHEUS_SERVICE] as Obj;
  const graf = r.services[GRAFANA_SERVICE] as Obj;
  const jaeger = r.services[JAEGER_SERVICE] as Obj;
  assert.equal(prom.image, 'prom/prometheus:v2.53.0');
  assert.deepEqual(prom.ports, ['127.0.0.1:41001:9090']);
  assert.deepEqual(graf.ports, ['127.0.0.1:41002:3000']);
  assert.deepEqual(jaeger.ports, ['127.0.0.1:41003:16686']);
  for (const s of [prom, graf, jaeger]) {
    assert.deepEqual(s.networks, { mesh: null });
    assert.equal(s.labels['mesh.role'], 'observability', 'discovery leaves them out of the mesh');
  }
  assert.deepEqual(prom.volumes, ['/p/.mesh/observability/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro']);
  assert.deepEqual(graf.volumes, [
    '/p/.mesh/observability/grafana/provisioning:/etc/grafana/provisioning:ro',
    '/p/.mesh/observability/grafana/dashboards:/var/lib/grafana/dashboards/mesh:ro',
  ]);
  assert.deepEqual(graf.depends_on, [PROMETHEUS_SERVICE]);
  assert.equal(jaeger.environment.COLLECTOR_OTLP_ENABLED, 'true');
  assert.equal(r.otlpEndpoint, 'http://mesh-jaeger:4318/v1/traces');
  assert.deepEqual(Object.keys(r.files).sort(), [
    'grafana/dashboards/mesh-dashboard.json',
    'grafana/provisioning/dashboards/mesh.yaml',
    'grafana/provisioning/datasources/mesh-prometheus.yaml',
    'prometheus/prometheus.yml',
  ]);
  // Prometheus scrapes the controller, and every sidecar the controller knows through its http_sd endpoint.
  const cfg = parse(r.files['prometheus/prometheus.yml']!);
  assert.deepEqual(cfg.scrape_configs, [
    { job_name: 'mesh-controller', static_configs: [{ targets: ['mesh-controller:15010'] }] },
    { job_name: 'mesh-sidecars', http_sd_configs: [{ url: 'http://mesh-controller:15010/v1/metrics/targets', refresh_interval: '5s' }] },
  ]);
});

test('Grafana is left out with Prometheus; Jaeger alone is fine', () => {
  const r = buildObservability({ ...opts, parts: ['grafana', 'jaeger'] });
  assert.deepEqual(Object.keys(r.services), [JAEGER_SERVICE]);
  assert.deepEqual(Object.keys(r.files), []);
});

test('images: Docker Hub names and registry hosts', () => {
  assert.equal(registryOf('prom/prometheus:v2.53.0'), 'registry-1.docker.io');
  assert.equal(registryOf('nginx'), 'registry-1.docker.io');
  assert.equal(registryOf('ghcr.io/x/y:1'), 'ghcr.io');
  assert.equal(registryOf('localhost:5000/y'), 'localhost:5000');
  assert.equal(observabilityImages({ MESH_GRAFANA_IMAGE: 'mirror.local/grafana:11' }).grafana, 'mirror.local/grafana:11');
});

test('images that cannot be had: a warning naming them and how to get them, and those services left out', async (t) => {
  const dir = tmp(t);
  const said: string[] = [];
  const check = async (imgs: string[]): Promise<ImageCheck[]> =>
    imgs.map((image) => (image === images.jaeger ? { image, local: true, pullable: true } : { image, local: false, pullable: false, why: 'registry-1.docker.io unreachable (ENOTFOUND)' }));
  const services = await observabilityForUp({ project: 'obs', stateDir: dir, meshNetwork: 'mesh', controller: { service: 'mesh-controller', port: 15010 }, log: (l) => said.push(l), check });
  assert.deepEqual(Object.keys(services), [JAEGER_SERVICE]);
  const warning = said.join('\n');
  assert.match(warning, /warning: --observability: leaving out Prometheus, Grafana/);
  assert.match(warning, /prom\/prometheus:v2\.53\.0 {2}\(registry-1\.docker\.io unreachable \(ENOTFOUND\)\)/);
  assert.match(warning, /grafana\/grafana:11\.1\.0/);
  assert.match(warning, /docker pull <image>/);
  assert.match(warning, /MESH_PROMETHEUS_IMAGE \/ MESH_GRAFANA_IMAGE/);
  assert.match(warning, /The mesh itself starts as usual/);
  assert.match(warning, /Jaeger http:\/\/127\.0\.0\.1:\d+/);
});

test('the generated file with every add-on passes `compose config`, and its mounts point at the written files', { skip: !findCompose() && 'no compose binary' }, async (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'compose.yaml'), 'services:\n  web:\n    image: nginx:1.25\n    ports: ["8080:80"]\n');
  const stateDir = join(dir, '.mesh');
  mkdirSync(stateDir);
  const all = async (imgs: string[]) => imgs.map((image) => ({ image, local: true, pullable: true }));
  const extra = await observabilityForUp({ project: 'obs', stateDir, meshNetwork: 'mesh', controller: { service: 'mesh-controller', port: 15010 }, log: () => {}, check: all });
  const r = await inject({
    files: [join(dir, 'compose.yaml')],
    project: 'obs',
    image: 'mesh:test',
    inspectDocker: false,
    extraServices: { 'mesh-controller': controllerService({ project: 'obs', image: 'mesh:test', token: 't', hostPort: 41000, stateDir, meshNetwork: 'mesh' }), ...extra },
  });
  await runCompose(findCompose()!, { files: [r.output], project: 'obs' }, ['config', '-q']);
  const out = parse(readFileSync(r.output, 'utf8')) as { services: Record<string, Obj> };
  for (const name of [PROMETHEUS_SERVICE, GRAFANA_SERVICE]) {
    for (const v of out.services[name]!.volumes as string[]) {
      const source = resolve(stateDir, v.split(':')[0]!);
      assert.ok(existsSync(source), `${name}: ${v} → ${source}`);
    }
  }
  // The dashboard mounted is the repository's own.
  assert.equal(readFileSync(join(stateDir, 'observability/grafana/dashboards/mesh-dashboard.json'), 'utf8'), readFileSync(new URL('../../../observability/grafana/mesh-dashboard.json', import.meta.url), 'utf8'));
  // Host ports are kept for the next `up` (stable file, nothing recreated).
  const ports = JSON.parse(readFileSync(join(stateDir, 'observability/ports.json'), 'utf8'));
  const again = await observabilityForUp({ project: 'obs', stateDir, meshNetwork: 'mesh', controller: { service: 'mesh-controller', port: 15010 }, log: () => {}, check: all });
  assert.deepEqual(again[GRAFANA_SERVICE]!.ports, [`127.0.0.1:${ports.grafana}:3000`]);
});

test('with Jaeger running, the controller makes it the default span export (MESH_OTLP_ENDPOINT); without, nothing changes', async (t) => {
  const stateDir = tmp(t);
  const base = { 'mesh-controller': { image: 'mesh:test', environment: { MESH_BOOTSTRAP_TOKEN: 't' } } };
  const o = { project: 'obs', stateDir, meshNetwork: 'mesh', controller: { service: 'mesh-controller', port: 15010 }, log: () => {} };
  assert.equal(await withObservability(false, base, o), base);
  const all = async (imgs: string[]) => imgs.map((image) => ({ image, local: true, pullable: true }));
  const on = await withObservability(true, base, { ...o, check: all });
  assert.deepEqual(on['mesh-controller']!.environment, { MESH_BOOTSTRAP_TOKEN: 't', MESH_OTLP_ENDPOINT: 'http://mesh-jaeger:4318' });
  assert.ok(on[JAEGER_SERVICE] && on[PROMETHEUS_SERVICE] && on[GRAFANA_SERVICE]);
  const noJaeger = async (imgs: string[]) => imgs.map((image) => ({ image, local: image !== images.jaeger, pullable: image !== images.jaeger }));
  const off = await withObservability(true, base, { ...o, check: noJaeger });
  assert.deepEqual(off['mesh-controller'], base['mesh-controller']);
  assert.equal(off[JAEGER_SERVICE], undefined);
});
