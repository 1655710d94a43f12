// Live request taps (`meshctl tap`): each subscriber has a filter, compiled
// once, and a sink. While nobody taps, the request path pays one boolean
// check (`active`); a request line is built only when a filter matches.
import type { TapFilter, TapRequest } from '../../shared/api.ts';
import type { Exchange } from '../http/exchange.ts';
import type { MetricFamily, MetricsRegistry } from './metrics-registry.ts';
import { METRIC_PREFIX } from './proxy-stats.ts';
import { TAP_STATS } from './tap-stats.ts';

export interface TapSink {
  /** One NDJSON line; the sink bounds its own memory (shared/bounded-line-writer.ts). */
  push(line: string): void;
}

type Match = (method: string, path: string, status: number) => boolean;

interface Subscriber {
  match: Match;
  sink: TapSink;
}

/** The filter as one predicate: path prefix, method, and any of the status classes / codes. */
export function compileTapFilter(f: TapFilter): Match {
  const classes: number[] = [];
  const codes: number[] = [];
  for (const s of f.status?.split(',') ?? []) {
    if (s.endsWith('xx')) classes.push(Number(s[0]));
    else codes.push(Number(s));
  }
  const anyStatus = classes.length === 0 && codes.length === 0;
  return (method, path, status) =>
    (f.path === undefined || path.startsWith(f.path)) &&
    (f.method === undefined || method === f.method) &&
    (anyStatus || codes.includes(status) || classes.includes((status / 100) | 0));
}

export class TapHub {
  /** True while at least one tap is open: the only thing the request path checks. */
  active = false;
  readonly #subs = new Set<Subscriber>();
  readonly stats: Record<keyof typeof TAP_STATS, MetricFamily>;

  constructor(metrics: MetricsRegistry) {
    this.stats = metrics.register(METRIC_PREFIX, TAP_STATS);
    // Every series from the start, so rate() and alerts see 0 rather than nothing.
    this.stats.tap_streams.with();
    this.stats.tap_lines_total.with();
    this.stats.tap_dropped_total.with();
  }

  /** Returns the unsubscribe function. */
  subscribe(filter: TapFilter, sink: TapSink): () => void {
    const sub: Subscriber = { match: compileTapFilter(filter), sink };
    this.#subs.add(sub);
    this.active = true;
    this.stats.tap_streams.with().value = this.#subs.size;
    return () => {
      this.#subs.delete(sub);
      this.active = this.#subs.size > 0;
      this.stats.tap_streams.with().value = this.#subs.size;
    };
  }

  /** A finished HTTP exchange (called from ProxyTelemetry.recordHttp only while `active`). */
  offer(ex: Exchange, source: string, destination: string, route: string, durationNs: number): void {
    const method = ex.req.method ?? 'GET';
    let line: string | undefined;
    for (const s of this.#subs) {
      if (!s.match(method, ex.path, ex.status)) continue;
      line ??= JSON.stringify(tapRequest(ex, method, source, destination, route, durationNs)) + '\n';
      this.stats.tap_lines_total.with().value++;
      s.sink.push(line);
    }
  }
}

function tapRequest(ex: Exchange, method: string, source: string, destination: string, route: string, durationNs: number): TapRequest {
  const l = ex.listener;
  return {
    type: 'request',
    time: new Date(ex.startMs).toISOString(),
    service: l.direction === 'inbound' ? l.localService : l.sourceService,
    direction: l.direction,
    source,
    destination,
    method,
    path: ex.path,
    authority: ex.host || undefined,
    route: route || undefined,
    status: ex.status,
    latencyMs: Math.round(durationNs / 1e3) / 1e3,
    attempts: ex.attempts,
    traceId: ex.traceId,
    upstream: ex.endpoint?.hostPort,
    error: ex.error,
  };
}
