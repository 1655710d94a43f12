// The controller's state machine: registry from discovery + config + overrides
// → snapshots (pure builder) → push hub. Everything that changes desired state
// goes through rebuild(); I/O lives in discovery, the API server and the scraper.
import type { MeshConfig } from '../shared/mesh-config.ts';
import type { OverridePut, Workload } from '../shared/api.ts';
import type { Snapshot } from '../shared/snapshot.ts';
import { buildSnapshots, type BuildInput } from './snapshot/build-snapshots.ts';
import { PushHub } from './push/push-hub.ts';
import { OverrideStore } from './overrides/override-store.ts';
import type { DiscoverySource } from './discovery/discovery-source.ts';
import { MetricsScraper } from './metrics/metrics-scraper.ts';
import { MeshError } from '../shared/errors.ts';
import { CanaryRunner } from './canary/canary-runner.ts';
import { CanaryStore } from './canary/canary-store.ts';
import { lazyDockerLauncher, type CanaryLauncher } from './canary/canary-launcher.ts';
import type { VersionFigures } from './canary/version-figures.ts';

export interface CoreOptions {
  project: string;
  config: MeshConfig;
  discovery: DiscoverySource;
  stateDir: string;
  certs?: BuildInput['certs'];
  scrapeMs?: number;
  pingMs?: number;
  /** Creates canary containers for `canary start --image`; default with Docker discovery: the Docker launcher. */
  canaryLauncher?: CanaryLauncher;
  /** Per-version figures for the canary engine; default: the metrics scraper. */
  canaryFigures?: VersionFigures;
  /** Canary timer period; 0 = none (tests tick by hand). */
  canaryTickMs?: number;
}

export class ControllerCore {
  readonly project: string;
  readonly hub: PushHub;
  readonly overrides: OverrideStore;
  readonly discovery: DiscoverySource;
  readonly canary: CanaryRunner;
  #config: MeshConfig;
  #registry: Workload[] = [];
  #snapshots = new Map<string, Snapshot>();
  #errors: string[] = [];
  #certs?: BuildInput['certs'];
  #scraper: MetricsScraper;

  constructor(opts: CoreOptions) {
    this.project = opts.project;
    this.#config = opts.config;
    this.discovery = opts.discovery;
    this.#certs = opts.certs;
    this.hub = new PushHub({ pingMs: opts.pingMs });
    this.overrides = new OverrideStore(opts.stateDir);
    this.#scraper = new MetricsScraper(() => this.hub.adminTargets(), { intervalMs: opts.scrapeMs ?? 1000 });
    this.canary = new CanaryRunner({
      store: new CanaryStore(opts.stateDir),
      figures: opts.canaryFigures ?? {
        totals: (service) => this.#scraper.versionTotals(service),
        fresh: async (service) => {
          await this.#scraper.scrapeNow(service);
          return this.#scraper.versionTotals(service);
        },
      },
      host: {
        versions: (service) => {
          const apps = this.#registry.filter((w) => w.service === service && w.role === 'app');
          return apps.length ? [...new Set(apps.map((w) => w.version))].sort() : undefined;
        },
        ready: (service, version) => this.#registry.some((w) => w.service === service && w.role === 'app' && w.version === version && w.healthy),
        override: (service) => this.overrides.get().services[service],
        putOverride: (body) => void this.putOverride(body),
        synced: (service) => this.hub.status().every((p) => p.service !== service || !p.connected || p.inSync),
      },
      // With Docker discovery the controller holds the socket, so it can start canary containers itself.
      launcher: opts.canaryLauncher ?? (opts.discovery.status().kind === 'docker' ? lazyDockerLauncher(opts.project) : undefined),
      tickMs: opts.canaryTickMs,
    });
  }

  async start(): Promise<void> {
    await this.discovery.start((workloads) => {
      this.#registry = workloads;
      this.rebuild();
    });
    this.rebuild();
    this.#scraper.start();
    this.canary.start();
  }

  rebuild(): void {
    const out = buildSnapshots({ project: this.project, config: this.#config, registry: this.#registry, overrides: this.overrides.get(), certs: this.#certs });
    this.#snapshots = out.snapshots;
    this.#errors = out.errors;
    this.hub.setDesired(out.snapshots);
  }

  /** New trust bundle or leaf generation from the CA (root rotation, `meshctl certs rotate`): rebuild and push. */
  setCerts(certs: BuildInput['certs']): void {
    this.#certs = certs;
    this.rebuild();
  }

  setConfig(config: MeshConfig): void {
    this.#config = config;
    this.rebuild();
  }

  /** Throws a MeshError (the API answers 400) for a service nobody knows. */
  putOverride(body: OverridePut) {
    const known = new Set([...Object.keys(this.#config.services), ...this.#registry.map((w) => w.service)]);
    if (!known.has(body.service)) {
      throw new MeshError('MESH_ERR_USAGE', `service: no service "${body.service}" in the registry or mesh.config.ts (known: ${[...known].sort().join(', ') || 'none'})`);
    }
    const v = this.overrides.put(body);
    this.rebuild();
    return v;
  }

  clearOverride(service?: string) {
    const v = this.overrides.clear(service);
    this.rebuild();
    return v;
  }

  snapshotFor(proxyId: string): Snapshot | undefined {
    return this.#snapshots.get(proxyId);
  }

  services() {
    const names = [...new Set(this.#registry.map((w) => w.service))].sort();
    return {
      services: names.map((name) => {
        const ws = this.#registry.filter((w) => w.service === name).sort((a, b) => (a.id < b.id ? -1 : 1));
        const cfg = this.#config.services[name];
        const ports = new Set<number>([...ws.flatMap((w) => w.ports), ...(cfg?.ports ?? []).map((p) => (typeof p === 'number' ? p : p.port))]);
        return {
          name,
          versions: [...new Set(ws.filter((w) => w.role === 'app').map((w) => w.version))].sort(),
          ports: [...ports].sort((a, b) => a - b),
          endpoints: ws.map((w) => ({ id: w.id, role: w.role, version: w.version, healthy: w.healthy, addresses: w.addresses })),
        };
      }),
    };
  }

  health() {
    const d = this.discovery.status();
    return {
      ok: !d.stale && this.#errors.length === 0,
      project: this.project,
      discovery: {
        kind: d.kind,
        stale: d.stale,
        ...(d.lastEventAt !== undefined ? { lastEventAt: d.lastEventAt, lastEventAgeMs: Date.now() - d.lastEventAt } : {}),
        ...(d.error ? { error: d.error } : {}),
      },
      buildErrors: this.#errors,
      proxies: this.hub.status().length,
    };
  }

  metrics() {
    return this.#scraper.aggregate();
  }

  /** Each proxy's latest scrape (the controller's own Prometheus /metrics sums their cumulative totals). */
  latestScrapes() {
    return this.#scraper.latest();
  }

  async stop(): Promise<void> {
    this.canary.stop();
    this.#scraper.stop();
    this.hub.close();
    await this.discovery.stop();
  }
}
