// Stat table of request mirroring (filters/mirror-filter.ts), registered on
// first use in the proxy's registry so /metrics carries it. The names end
// neither in requests_total nor in request_duration_seconds, so nothing that
// sums real traffic counts a mirrored copy; the canary engine reads them apart.
import type { StatSpec } from '../telemetry/metrics-registry.ts';
import { LATENCY_BUCKETS_SECONDS, METRIC_PREFIX } from '../telemetry/proxy-stats.ts';
import type { ProxyTelemetry } from '../telemetry/proxy-telemetry.ts';

const route = ['direction', 'listener', 'route'] as const;
const target = [...route, 'cluster', 'destination_version'] as const;

export const MIRROR_STATS = {
  mirror_responses_total: {
    type: 'counter',
    help: 'Mirrored copies answered (response_class 2xx..5xx) or failed (error); the answers are discarded.',
    labels: [...target, 'response_class'],
  },
  mirror_duration_seconds: { type: 'histogram', help: 'Time until a mirrored copy was answered in full.', labels: target, buckets: LATENCY_BUCKETS_SECONDS },
  mirror_skipped_total: {
    type: 'counter',
    help: 'Requests picked for mirroring but not copied, by why (body: streamed body not buffered; overload: too many copies in flight; no-endpoint).',
    labels: [...route, 'reason'],
  },
} as const satisfies Record<string, StatSpec>;

type Families = ReturnType<ProxyTelemetry['metrics']['register']>;
const cache = new WeakMap<ProxyTelemetry, { [K in keyof typeof MIRROR_STATS]: Families[string] }>();

export function mirrorStats(t: ProxyTelemetry): { [K in keyof typeof MIRROR_STATS]: Families[string] } {
  let s = cache.get(t);
  if (s === undefined) {
    s = t.metrics.register(METRIC_PREFIX, MIRROR_STATS);
    cache.set(t, s);
  }
  return s;
}
