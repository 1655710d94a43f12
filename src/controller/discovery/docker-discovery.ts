// Discovery from the Docker engine, scoped to one compose project by its
// label (never by container name: compose v1 and v2 name containers
// differently). Follows the event stream; when the stream ends or errors it
// marks itself stale, reconnects with backoff and resynchronises from a full
// list, so it never goes silently out of date. An app container that declares
// no port gets its listening ports learned from its network namespace
// (learn-ports.ts); it joins the registry once they are known or the first
// attempts found none, and later attempts keep trying a while.
import type Docker from 'dockerode';
import { Labels } from '../../shared/names.ts';
import { Workload } from '../../shared/api.ts';
import type { DiscoverySource, DiscoveryStatus } from './discovery-source.ts';
import { learnListeningPorts } from './learn-ports.ts';

export interface DockerDiscoveryOptions {
  project: string;
  docker?: Docker;
  /** Safety net: a full resync this often even when events flow. */
  resyncMs?: number;
  backoff?: { baseMs?: number; maxMs?: number };
  log?: (fields: Record<string, unknown>) => void;
  /** Image for the port-learning helper (default $MESH_IMAGE, which `meshctl up` gives the controller); none: no learning. */
  helperImage?: string;
  /**
   * Delays (ms) between port-learning attempts for a container that declares no port. The app is held out of
   * the registry during the first `holdAttempts` (so `meshctl up` waits for them); later ones run in the background.
   */
  learnDelaysMs?: number[];
  holdAttempts?: number;
  /** Stand-in for the helper container (tests). */
  learnPorts?: (containerId: string) => Promise<number[]>;
}

type Learned = { ports: number[]; settled: boolean };

const CONTAINER_EVENTS = ['start', 'restart', 'die', 'stop', 'kill', 'destroy', 'pause', 'unpause', 'health_status'];
const GONE = new Set(['die', 'stop', 'kill', 'destroy', 'pause']);

export class DockerDiscovery implements DiscoverySource {
  #opts: DockerDiscoveryOptions;
  // Set in start(): see there.
  #docker!: Docker;
  #workloads = new Map<string, Workload>();
  #onChange?: (w: Workload[]) => void;
  #stream?: NodeJS.ReadableStream & { destroy?: () => void };
  #stale = true;
  #lastEventAt?: number;
  #error?: string;
  #failures = 0;
  #stopped = false;
  #retry?: NodeJS.Timeout;
  #resync?: NodeJS.Timeout;
  #queue: Promise<void> = Promise.resolve();
  /** Ports learned per container id; `settled` once the held attempts are over (or ports were found). */
  #learned = new Map<string, Learned>();

  constructor(opts: DockerDiscoveryOptions) {
    this.#opts = opts;
  }

  async start(onChange: (workloads: Workload[]) => void): Promise<void> {
    this.#onChange = onChange;
    // dockerode loads here, not with this module: with its dependencies (ssh2, grpc, protobufjs) it is
    // ~0.1-0.3 s of CPU, which the controller now spends after its listeners opened, while sidecars get certificates.
    this.#docker ??= this.#opts.docker ?? new (await import('dockerode')).default();
    await this.#connect();
    this.#resync = setInterval(() => void this.#serial(() => this.#fullSync()), this.#opts.resyncMs ?? 30_000);
    this.#resync.unref();
  }

  /** Subscribe first, then list: an event that lands in between is seen twice, never missed. */
  async #connect(): Promise<void> {
    if (this.#stopped) return;
    try {
      const stream = (await this.#docker.getEvents({
        filters: { type: ['container', 'network'] },
      })) as NodeJS.ReadableStream & { destroy?: () => void };
      this.#stream = stream;
      let buf = '';
      stream.on('data', (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) this.#onEvent(line);
        }
      });
      const lost = (why: string) => {
        if (this.#stream !== stream) return;
        this.#stream = undefined;
        this.#lose(why);
      };
      stream.on('end', () => lost('event stream ended'));
      stream.on('close', () => lost('event stream closed'));
      stream.on('error', (err: Error) => lost(`event stream error: ${err.message}`));
      await this.#serial(() => this.#fullSync());
      this.#failures = 0;
      this.#stale = false;
      this.#error = undefined;
      this.#opts.log?.({ msg: 'docker discovery in sync', workloads: this.#workloads.size });
    } catch (err) {
      this.#lose(`docker: ${(err as Error).message}`);
    }
  }

  #lose(why: string): void {
    this.#stale = true;
    this.#error = why;
    this.#stream?.destroy?.();
    this.#stream = undefined;
    if (this.#stopped) return;
    const base = this.#opts.backoff?.baseMs ?? 200;
    const max = this.#opts.backoff?.maxMs ?? 5000;
    const delay = Math.min(max, base * 2 ** Math.min(this.#failures++, 16)) * (0.5 + Math.random() / 2);
    this.#opts.log?.({ msg: 'docker discovery stale; reconnecting', reason: why, retryInMs: Math.round(delay) });
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => void this.#connect(), delay);
  }

  #onEvent(line: string): void {
    let ev: { Type?: string; Action?: string; status?: string; id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    try {
      ev = JSON.parse(line);
    } catch {
      return;
    }
    const action = (ev.Action ?? ev.status ?? '').split(':')[0]!; // "health_status: healthy"
    const attrs = ev.Actor?.Attributes ?? {};
    if (ev.Type === 'container') {
      if (attrs[Labels.composeProject] !== this.#opts.project || !CONTAINER_EVENTS.includes(action)) return;
      this.#lastEventAt = Date.now();
      const id = ev.Actor?.ID ?? ev.id!;
      void this.#serial(async () => {
        if (GONE.has(action)) {
          // Drop at once: no inspect round trip between a death and the push.
          // A restarted container may listen elsewhere: learn again.
          if (action === 'die' || action === 'destroy') this.#learned.delete(id);
          if (this.#workloads.delete(id)) this.#emit();
        } else await this.#refresh(id);
      });
    } else if (ev.Type === 'network' && (action === 'connect' || action === 'disconnect')) {
      const id = attrs.container;
      if (!id) return;
      // Network events carry no container labels; only containers we hold (or a resync) matter.
      if (!this.#workloads.has(id) && action === 'disconnect') return;
      this.#lastEventAt = Date.now();
      void this.#serial(() => this.#refresh(id));
    }
  }

  /** Re-inspect one container and upsert or drop it. */
  async #refresh(id: string): Promise<void> {
    let info: Docker.ContainerInspectInfo | undefined;
    try {
      info = await this.#docker.getContainer(id).inspect();
    } catch {
      info = undefined; // gone already
    }
    const w = info ? this.#withLearnedPorts(this.#toWorkload(info)) : undefined;
    const before = JSON.stringify(this.#workloads.get(id) ?? null);
    if (w) this.#workloads.set(id, w);
    else this.#workloads.delete(id);
    if (JSON.stringify(w ?? null) !== before) this.#emit();
  }

  async #fullSync(): Promise<void> {
    const list = await this.#docker.listContainers({ filters: { label: [`${Labels.composeProject}=${this.#opts.project}`] } });
    const next = new Map<string, Workload>();
    // Inspected 8 at a time, not one by one: at `meshctl up` the controller's first sync is on the path of
    // every sidecar (its push listener opens after it), and each inspect is a round trip to the engine.
    const infos: (Docker.ContainerInspectInfo | undefined)[] = new Array(list.length);
    let nextIndex = 0;
    const worker = async () => {
      for (let i = nextIndex++; i < list.length; i = nextIndex++) {
        infos[i] = await this.#docker.getContainer(list[i]!.Id).inspect().catch(() => undefined); // removed between list and inspect
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, list.length) }, worker));
    list.forEach((c, i) => {
      const w = infos[i] && this.#withLearnedPorts(this.#toWorkload(infos[i]!));
      if (w) next.set(c.Id, w);
    });
    const changed = JSON.stringify([...this.#workloads].sort()) !== JSON.stringify([...next].sort());
    this.#workloads = next;
    if (changed) this.#emit();
  }

  #toWorkload(info: Docker.ContainerInspectInfo): Workload | undefined {
    const labels = info.Config?.Labels ?? {};
    if (labels[Labels.composeProject] !== this.#opts.project || !info.State?.Running || info.State.Paused) return undefined;
    const composeService = labels[Labels.composeService] ?? info.Name.replace(/^\//, '');
    let role = labels[Labels.role];
    let service = labels[Labels.service];
    if (!role && composeService.endsWith('-mesh')) role = 'proxy'; // sidecars written before labels existed
    if (role !== 'app' && role !== 'proxy' && role !== undefined) return undefined; // the controller itself, helpers
    if (!service) service = role === 'proxy' && composeService.endsWith('-mesh') ? composeService.slice(0, -'-mesh'.length) : composeService;
    const prefix = `${this.#opts.project}_`;
    const addresses: Record<string, string> = {};
    const aliases: Record<string, string[]> = {};
    for (const [net, n] of Object.entries(info.NetworkSettings?.Networks ?? {})) {
      // `meshctl up` names the mesh network `<project>-mesh` (so published ports land on it).
      const name = net.startsWith(prefix) || net.startsWith(`${this.#opts.project}-`) ? net.slice(prefix.length) : net;
      const ip = n.IPAddress || n.GlobalIPv6Address;
      if (ip) addresses[name] = ip;
      if (n.Aliases?.length) aliases[name] = [...n.Aliases].sort();
    }
    // EXPOSE / compose `expose`, plus the ports the rewriter read from the file (`mesh.ports`, e.g. "80/tcp,53/udp"):
    // a published app port is moved to its sidecar, so the app container no longer exposes it.
    const declared = (labels['mesh.ports'] ?? '').split(',').map((p) => p.trim()).filter((p) => p && !p.endsWith('/udp'));
    const ports = [...new Set([...Object.keys(info.Config?.ExposedPorts ?? {}).filter((p) => p.endsWith('/tcp')), ...declared].map((p) => Number(p.split('/')[0])))]
      .filter((p) => Number.isInteger(p) && p > 0 && p < 65536)
      .sort((a, b) => a - b);
    const health = info.State.Health?.Status;
    return Workload.parse({
      id: info.Id,
      service,
      version: labels[Labels.version] ?? 'v1',
      role: role ?? 'app',
      // No healthcheck: healthy while running. "starting" gets no traffic yet.
      healthy: health === undefined || health === 'healthy',
      addresses,
      aliases,
      ports: role === 'proxy' ? [] : ports,
      // Published container ports of a sidecar: its inbound listener there must accept the host's plaintext.
      ...(role === 'proxy' ? { published: publishedPorts(info) } : {}),
    });
  }

  /**
   * An app that declares no port: its learned ports, or undefined (held out of the
   * registry) while the first attempts run. Starts learning on first sight.
   */
  #withLearnedPorts(w: Workload | undefined): Workload | undefined {
    if (!w || w.role !== 'app' || w.ports.length > 0) return w;
    const learn = this.#learnPortsFn();
    if (!learn) return w;
    const known = this.#learned.get(w.id);
    if (!known) {
      const entry: Learned = { ports: [], settled: false };
      this.#learned.set(w.id, entry);
      void this.#learnLoop(w.id, w.service, entry, learn);
      return undefined;
    }
    if (!known.settled) return undefined;
    return known.ports.length ? Workload.parse({ ...w, ports: known.ports }) : w;
  }

  #learnPortsFn(): ((id: string) => Promise<number[]>) | undefined {
    if (this.#opts.learnPorts) return this.#opts.learnPorts;
    const image = this.#opts.helperImage ?? process.env.MESH_IMAGE;
    if (!image) return undefined;
    return (container) => learnListeningPorts({ docker: this.#docker, container, image, project: this.#opts.project });
  }

  async #learnLoop(id: string, service: string, entry: Learned, learn: (id: string) => Promise<number[]>): Promise<void> {
    // Held: ~2 s in all, enough for an app that binds soon after it starts; then ~2 min in the background.
    const delays = this.#opts.learnDelaysMs ?? [0, 250, 500, 1000, 3000, 5000, 10_000, 20_000, 30_000, 60_000];
    const hold = this.#opts.holdAttempts ?? 4;
    for (let i = 0; i < delays.length; i++) {
      if (delays[i]) await new Promise((r) => setTimeout(r, delays[i]).unref());
      if (this.#stopped || this.#learned.get(id) !== entry) return;
      let ports: number[] = [];
      try {
        ports = await learn(id);
      } catch (err) {
        this.#opts.log?.({ msg: 'port learning failed', service, container: id.slice(0, 12), error: (err as Error).message });
      }
      if (this.#stopped || this.#learned.get(id) !== entry) return;
      const settle = ports.length > 0 || i === hold - 1;
      if (ports.length) this.#opts.log?.({ msg: 'learned listening ports', service, container: id.slice(0, 12), ports });
      if (settle) {
        const changed = !entry.settled || ports.length > 0;
        entry.settled = true;
        if (ports.length) entry.ports = ports;
        if (changed) await this.#serial(() => this.#refresh(id)).catch(() => {});
        if (ports.length) return;
      }
    }
    this.#opts.log?.({ msg: 'no listening port learned; declare them in mesh.config.ts or with expose:', service, container: id.slice(0, 12) });
  }

  #emit(): void {
    this.#onChange?.([...this.#workloads.values()].sort((a, b) => (a.id < b.id ? -1 : 1)));
  }

  /** Event handling and resyncs run one at a time, in order. */
  #serial(fn: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(fn);
    this.#queue = next.catch(() => {});
    return next;
  }

  status(): DiscoveryStatus {
    return {
      kind: 'docker',
      stale: this.#stale,
      ...(this.#lastEventAt !== undefined ? { lastEventAt: this.#lastEventAt } : {}),
      ...(this.#error ? { error: this.#error } : {}),
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    clearInterval(this.#resync);
    const s = this.#stream;
    this.#stream = undefined;
    s?.destroy?.();
    await this.#queue;
  }
}

/** Container TCP ports bound to a host port (HostConfig.PortBindings, e.g. {"8080/tcp": [{HostPort: "8080"}]}). */
function publishedPorts(info: Docker.ContainerInspectInfo): number[] {
  const bindings = (info.HostConfig?.PortBindings ?? {}) as Record<string, unknown[] | null>;
  return Object.entries(bindings)
    .filter(([p, b]) => p.endsWith('/tcp') && Array.isArray(b) && b.length > 0)
    .map(([p]) => Number(p.split('/')[0]))
    .filter((p) => Number.isInteger(p) && p > 0 && p < 65536)
    .sort((a, b) => a - b);
}
