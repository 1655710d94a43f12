// Carries canary test headers (snapshot.headerPropagation) from an inbound
// request to the outbound calls it causes. One proxy carries both directions of
// all its service's replicas (DESIGN.md), so it can tie an app's outbound call to
// the inbound request behind it through the trace id the app forwards (W3C
// traceparent or B3, read by the trace-context filter before this one): inbound,
// a request carrying one of the headers is remembered by trace id; outbound, a
// request of a remembered trace gets the headers it lacks. Apps must forward
// trace context, as Istio and Linkerd require for tracing; without it the header
// stops at that hop. Memory is bounded by ttlMs and maxEntries, per proxy.
import type { Filter } from './filter.ts';
import type { StatSpec } from '../telemetry/metrics-registry.ts';
import { METRIC_PREFIX } from '../telemetry/proxy-stats.ts';
import type { ProxyTelemetry } from '../telemetry/proxy-telemetry.ts';
import { TraceHeaderStore } from './trace-header-store.ts';

export const HEADER_PROPAGATION_STATS = {
  propagation_remembered_total: { type: 'counter', help: 'Inbound requests whose test headers were remembered by trace id.', labels: ['listener'] },
  propagation_added_total: { type: 'counter', help: 'Outbound requests that got remembered test headers added.', labels: ['listener'] },
} as const satisfies Record<string, StatSpec>;

// One store per proxy (its telemetry object lives as long as the proxy, across snapshots).
const stores = new WeakMap<ProxyTelemetry, TraceHeaderStore>();
const fallback = new TraceHeaderStore();
const statsOf = new WeakMap<ProxyTelemetry, ReturnType<ProxyTelemetry['metrics']['register']>>();

function storeOf(t: ProxyTelemetry | undefined): TraceHeaderStore {
  if (t === undefined) return fallback;
  let s = stores.get(t);
  if (s === undefined) stores.set(t, (s = new TraceHeaderStore()));
  return s;
}

function count(t: ProxyTelemetry | undefined, key: keyof typeof HEADER_PROPAGATION_STATS, listener: string): void {
  if (t === undefined) return;
  let s = statsOf.get(t);
  if (s === undefined) statsOf.set(t, (s = t.metrics.register(METRIC_PREFIX, HEADER_PROPAGATION_STATS)));
  s[key]!.with(listener).value++;
}

export const headerPropagationFilter: Filter = (next, ctx) => {
  const cfg = ctx.snapshot.headerPropagation;
  if (cfg === undefined) return next;
  const names = cfg.headers;
  const listener = ctx.listener.name;
  if (ctx.listener.direction === 'inbound') {
    return (ex) => {
      const traceId = ex.traceId;
      if (traceId !== undefined) {
        const h = ex.req.headers;
        let found: string[] | undefined;
        for (const name of names) {
          const v = h[name];
          if (v !== undefined) (found ??= []).push(name, Array.isArray(v) ? v.join(', ') : v);
        }
        if (found !== undefined) {
          storeOf(ex.telemetry).set(traceId, found, cfg.ttlMs, cfg.maxEntries);
          count(ex.telemetry, 'propagation_remembered_total', listener);
        }
      }
      next(ex);
    };
  }
  return (ex) => {
    const traceId = ex.traceId;
    const found = traceId === undefined ? undefined : storeOf(ex.telemetry).get(traceId);
    if (found !== undefined) {
      const h = ex.req.headers;
      let added = false;
      for (let i = 0; i < found.length; i += 2) {
        if (h[found[i]!] !== undefined) continue; // the app forwarded it itself
        ex.extraHeaders.push(found[i]!, found[i + 1]!);
        added = true;
      }
      if (added) count(ex.telemetry, 'propagation_added_total', listener);
    }
    next(ex);
  };
};
