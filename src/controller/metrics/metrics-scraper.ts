// Scrapes every connected proxy's admin /metrics each second and keeps a short
// window of samples, from which it serves the mesh-wide figures `meshctl top`
// shows: per service (inbound side) and per edge (caller's outbound side)
// rps, success rate, latency quantiles, retries and active connections, plus
// per route of a service (inbound side, from the proxies' `route` label), and
// per version of a service (inbound side, `destination_version` label: the
// picked endpoint's version) both as rates and as cumulative totals for the
// canary engine.
import { parsePrometheusText, type Sample } from './prometheus-text.ts';
import { mirrorFiguresKey, type VersionTotals } from '../../shared/canary.ts';

type Target = { proxyId: string; service: string; url: string };
type Scrape = { at: number; samples: Sample[] };
type Figures = { rps: number; successRate: number | null; p50Ms: number | null; p95Ms: number | null; p99Ms: number | null; retries: number; activeConnections: number };

const WINDOW_MS = 5000;

export class MetricsScraper {
  #targets: () => Target[];
  #intervalMs: number;
  #timer?: NodeJS.Timeout;
  #history = new Map<string, { service: string; scrapes: Scrape[] }>();
  #errors = new Map<string, string>();
  #running = false;
  #current: Promise<void> = Promise.resolve();

  constructor(targets: () => Target[], opts: { intervalMs?: number } = {}) {
    this.#targets = targets;
    this.#intervalMs = opts.intervalMs ?? 1000;
  }

  start(): void {
    this.#timer = setInterval(() => void this.scrapeOnce(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async scrapeOnce(): Promise<void> {
    if (this.#running) return; // a slow proxy must not pile up scrapes
    this.#running = true;
    let done!: () => void;
    this.#current = new Promise<void>((r) => (done = r));
    try {
      const targets = this.#targets();
      const live = new Set(targets.map((t) => t.proxyId));
      for (const id of this.#history.keys()) if (!live.has(id)) this.#history.delete(id);
      for (const id of this.#errors.keys()) if (!live.has(id)) this.#errors.delete(id);
      await Promise.all(targets.map((t) => this.#scrape(t)));
    } finally {
      this.#running = false;
      done();
    }
  }

  /**
   * Scrapes one service's proxies now (the canary engine's window edges), after any scrape under way, so the
   * samples it adds are the newest; the periodic scrape skips while it runs.
   */
  async scrapeNow(service: string): Promise<void> {
    while (this.#running) await this.#current;
    this.#running = true;
    let done!: () => void;
    this.#current = new Promise<void>((r) => (done = r));
    try {
      await Promise.all(this.#targets().filter((t) => t.service === service).map((t) => this.#scrape(t)));
    } finally {
      this.#running = false;
      done();
    }
  }

  async #scrape(t: Target): Promise<void> {
    try {
      const res = await fetch(`${t.url}/metrics`, { signal: AbortSignal.timeout(Math.max(500, this.#intervalMs)) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.ingest(t.proxyId, t.service, await res.text());
      this.#errors.delete(t.proxyId);
    } catch (err) {
      this.#errors.set(t.proxyId, `${t.proxyId} (${t.url}/metrics): ${(err as Error).message}`);
    }
  }

  aggregate() {
    const services = new Map<string, Acc>();
    const edges = new Map<string, Acc & { source: string; destination: string; tls: TlsCount }>();
    const routes = new Map<string, Acc & { service: string; route: string }>();
    const versions = new Map<string, Acc & { service: string; version: string }>();
    for (const { service, scrapes } of this.#history.values()) {
      if (scrapes.length < 2) continue;
      const first = scrapes[0]!;
      const last = scrapes[scrapes.length - 1]!;
      const seconds = (last.at - first.at) / 1000;
      const before = index(first.samples);
      for (const s of last.samples) {
        const delta = Math.max(0, s.value - (before.get(key(s)) ?? 0));
        const dir = s.labels.direction;
        const dst = s.labels.destination_service || service;
        const src = s.labels.source_service || (dir === 'outbound' ? service : 'unknown');
        const targets: Acc[] = [];
        if (dir !== 'outbound') {
          targets.push(acc(services, dst));
          // Gauges carry no route label; only request series feed the per-route figures.
          if (s.labels.route !== undefined) {
            const k = `${dst}\u0000${s.labels.route}`;
            if (!routes.has(k)) routes.set(k, { ...newAcc(), service: dst, route: s.labels.route });
            targets.push(routes.get(k)!);
          }
          if (s.labels.destination_version) {
            const k = `${dst}\u0000${s.labels.destination_version}`;
            if (!versions.has(k)) versions.set(k, { ...newAcc(), service: dst, version: s.labels.destination_version });
            targets.push(versions.get(k)!);
          }
        }
        if (dir !== 'inbound') {
          const k = `${src}\u0000${dst}`;
          if (!edges.has(k)) edges.set(k, { ...newAcc(), source: src, destination: dst, tls: { window: [0, 0], ever: [0, 0] } });
          const e = edges.get(k)!;
          targets.push(e);
          // The caller's sidecar labels each request with whether its hop went over mesh mTLS.
          if (s.labels.tls !== undefined && /requests_total$/.test(s.name)) {
            const i = s.labels.tls === 'true' ? 0 : 1;
            e.tls.window[i] += delta;
            e.tls.ever[i] += s.value;
          }
        }
        if (s.name.endsWith('_active_connections') || s.name === 'active_connections') {
          // Listener gauge: no destination label, so it belongs to the proxy's own service.
          if (dir === 'inbound') acc(services, service).active += s.value;
          continue;
        }
        for (const a of targets) {
          if (/requests_total$/.test(s.name)) {
            a.total += delta / seconds;
            const failed = s.labels.response_class === '5xx' || Number(s.labels.status_code) >= 500;
            if (!failed) a.ok += delta / seconds;
          } else if (/retr(y|ies)_total$/.test(s.name)) {
            a.retries += delta / seconds;
          } else if (/request_duration_seconds_bucket$/.test(s.name) && s.labels.le !== undefined) {
            const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
            a.buckets.set(le, (a.buckets.get(le) ?? 0) + delta);
          }
        }
      }
    }
    const round = (n: number) => Math.round(n * 1000) / 1000;
    const figures = (a: Acc): Figures => ({
      rps: round(a.total),
      successRate: a.total > 0 ? round(a.ok / a.total) : null,
      p50Ms: quantile(a.buckets, 0.5),
      p95Ms: quantile(a.buckets, 0.95),
      p99Ms: quantile(a.buckets, 0.99),
      retries: round(a.retries),
      activeConnections: a.active,
    });
    return {
      at: Date.now(),
      services: [...services].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([service, a]) => ({ service, ...figures(a) })),
      edges: [...edges.values()]
        .sort((a, b) => (`${a.source}/${a.destination}` < `${b.source}/${b.destination}` ? -1 : 1))
        .map((e) => ({ source: e.source, destination: e.destination, ...figures(e), mtls: mtlsOf(e.tls) })),
      routes: [...routes.values()]
        .sort((a, b) => (`${a.service}/${a.route}` < `${b.service}/${b.route}` ? -1 : 1))
        .map((r) => ({ service: r.service, route: r.route, ...figures(r) })),
      versions: [...versions.values()]
        .sort((a, b) => (`${a.service}/${a.version}` < `${b.service}/${b.version}` ? -1 : 1))
        .map((v) => ({ service: v.service, version: v.version, ...figures(v) })),
      scrapeErrors: [...this.#errors.values()].sort(),
    };
  }

  /**
   * Cumulative inbound counters of one service per `destination_version`,
   * summed over its proxies' latest scrapes (the canary engine diffs them per
   * step). Undefined until one of the service's proxies has been scraped.
   */
  versionTotals(service: string): Record<string, VersionTotals> | undefined {
    let seen = false;
    const out = new Map<string, { requests: number; errors: number; buckets: Map<number, number> }>();
    for (const h of this.#history.values()) {
      const last = h.scrapes[h.scrapes.length - 1];
      if (!last) continue;
      if (h.service === service) seen = true;
      for (const s of last.samples) {
        // A version's answers to mirrored copies (canary --mirror) count apart, under mirror:<version>.
        const mirrored = s.name.endsWith('mirror_responses_total') || s.name.endsWith('mirror_duration_seconds_bucket');
        const version = s.labels.destination_version && (mirrored ? mirrorFiguresKey(s.labels.destination_version) : s.labels.destination_version);
        if (!version || s.labels.direction !== 'inbound' || (s.labels.destination_service || h.service) !== service) continue;
        if (!out.has(version)) out.set(version, { requests: 0, errors: 0, buckets: new Map() });
        const v = out.get(version)!;
        if (/requests_total$/.test(s.name) || (mirrored && s.name.endsWith('_total'))) {
          v.requests += s.value;
          if (s.labels.response_class === '5xx' || s.labels.response_class === 'error' || Number(s.labels.status_code) >= 500) v.errors += s.value;
        } else if (/(request|mirror)_duration_seconds_bucket$/.test(s.name) && s.labels.le !== undefined) {
          const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
          v.buckets.set(le, (v.buckets.get(le) ?? 0) + s.value);
        }
      }
    }
    if (!seen && out.size === 0) return undefined;
    return Object.fromEntries(
      [...out].map(([version, v]) => [
        version,
        { requests: v.requests, errors: v.errors, buckets: [...v.buckets].sort((a, b) => a[0] - b[0]).map(([le, n]) => [le === Infinity ? null : le, n] as [number | null, number]) },
      ]),
    );
  }

  /** Each proxy's latest scrape, for the controller's own /metrics (cumulative totals per service and edge). */
  latest(): { proxyId: string; service: string; samples: Sample[] }[] {
    const out: { proxyId: string; service: string; samples: Sample[] }[] = [];
    for (const [proxyId, h] of this.#history) {
      const last = h.scrapes[h.scrapes.length - 1];
      if (last) out.push({ proxyId, service: h.service, samples: last.samples });
    }
    return out;
  }

  /** One scrape's text from a proxy (also how tests feed synthetic figures). */
  ingest(proxyId: string, service: string, text: string, at = Date.now()): void {
    const h = this.#history.get(proxyId) ?? { service, scrapes: [] };
    h.scrapes.push({ at, samples: parsePrometheusText(text) });
    while (h.scrapes.length > 2 && at - h.scrapes[0]!.at > WINDOW_MS) h.scrapes.shift();
    this.#history.set(proxyId, h);
  }
}

type Acc = { total: number; ok: number; retries: number; active: number; buckets: Map<number, number> };
/** Requests over mTLS / not, in the window and since the proxy started: [tls, plaintext]. */
type TlsCount = { window: [number, number]; ever: [number, number] };
/** The window decides; an edge idle in the window keeps what its counters say overall; null: no `tls` label seen. */
function mtlsOf(c: TlsCount): 'mtls' | 'plaintext' | 'mixed' | null {
  const [yes, no] = c.window[0] + c.window[1] > 0 ? c.window : c.ever;
  return yes > 0 && no > 0 ? 'mixed' : yes > 0 ? 'mtls' : no > 0 ? 'plaintext' : null;
}
const newAcc = (): Acc => ({ total: 0, ok: 0, retries: 0, active: 0, buckets: new Map() });
function acc(m: Map<string, Acc>, k: string): Acc {
  if (!m.has(k)) m.set(k, newAcc());
  return m.get(k)!;
}
const key = (s: Sample) => `${s.name}{${Object.keys(s.labels).sort().map((k) => `${k}=${s.labels[k]}`).join(',')}}`;
const index = (samples: Sample[]) => new Map(samples.map((s) => [key(s), s.value]));

/** Quantile from summed cumulative histogram buckets, interpolating inside the bucket (as histogram_quantile does). */
export function quantile(buckets: Map<number, number>, q: number): number | null {
  const les = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? (les.length ? buckets.get(les[les.length - 1]!)! : 0);
  if (!total) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const le of les) {
    const count = buckets.get(le)!;
    if (count >= rank) {
      if (le === Infinity) return Math.round(prevLe * 1000 * 1000) / 1000;
      const within = count - prevCount;
      const v = within > 0 ? prevLe + ((le - prevLe) * (rank - prevCount)) / within : le;
      return Math.round(v * 1000 * 1000) / 1000;
    }
    prevLe = le;
    prevCount = count;
  }
  return null;
}
