// Discovery from the Docker engine, scoped to one compose project by its
// label (never by container name: compose v1 and v2 name containers
// differently). Follows the event stream; when the stream ends or errors it
// marks itself stale, reconnects with backoff and resynchronises from a full
// list, so it never goes silently out of date.
import Docker from 'dockerode';
import { Labels } from '../../shared/names.ts';
import { Workload } from '../../shared/api.ts';
import type { DiscoverySource, DiscoveryStatus } from './discovery-source.ts';

export interface DockerDiscoveryOptions {
  project: string;
  docker?: Docker;
  /** Safety net: a full resync this often even when events flow. */
  resyncMs?: number;
  backoff?: { baseMs?: number; maxMs?: number };
  log?: (fields: Record<string, unknown>) => void;
}

const CONTAINER_EVENTS = ['start', 'restart', 'die', 'stop', 'kill', 'destroy', 'pause', 'unpause', 'health_status'];
const GONE = new Set(['die', 'stop', 'kill', 'destroy', 'pause']);

export class DockerDiscovery implements DiscoverySource {
  #opts: DockerDiscoveryOptions;
  #docker: Docker;
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

  constructor(opts: DockerDiscoveryOptions) {
    this.#opts = opts;
    this.#docker = opts.docker ?? new Docker();
  }

  async start(onChange: (workloads: Workload[]) => void): Promise<void> {
    this.#onChange = onChange;
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
    const w = info ? this.#toWorkload(info) : undefined;
    const before = JSON.stringify(this.#workloads.get(id) ?? null);
    if (w) this.#workloads.set(id, w);
    else this.#workloads.delete(id);
    if (JSON.stringify(w ?? null) !== before) this.#emit();
  }

  async #fullSync(): Promise<void> {
    const list = await this.#docker.listContainers({ filters: { label: [`${Labels.composeProject}=${this.#opts.project}`] } });
    const next = new Map<string, Workload>();
    for (const c of list) {
      try {
        const w = this.#toWorkload(await this.#docker.getContainer(c.Id).inspect());
        if (w) next.set(c.Id, w);
      } catch {
        // Removed between list and inspect.
      }
    }
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
