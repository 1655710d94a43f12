// Stat table of the resilience policies (retries, timeouts, circuit breaking,
// outlier detection, health checks, rate limits, faults, failover), registered
// on first use in the proxy's registry so /metrics carries them.
import type { StatSpec } from './metrics-registry.ts';
import { METRIC_PREFIX } from './proxy-stats.ts';
import type { ProxyTelemetry } from './proxy-telemetry.ts';

const route = ['direction', 'listener', 'route'] as const;

export const RESILIENCE_STATS = {
  retries_total: { type: 'counter', help: 'Upstream attempts retried, by the reason of the failed attempt.', labels: [...route, 'cluster', 'reason'] },
  retries_skipped_total: {
    type: 'counter',
    help: 'Retriable failures not retried, by why (budget, body-too-large, non-idempotent, attempts).',
    labels: [...route, 'reason'],
  },
  timeouts_total: { type: 'counter', help: 'Requests or attempts that timed out, by kind (request, per-try, idle, connect).', labels: [...route, 'kind'] },
  circuit_open_total: { type: 'counter', help: 'Requests refused by a circuit breaker limit.', labels: ['cluster', 'limit'] },
  outlier_ejections_total: { type: 'counter', help: 'Endpoints ejected by outlier detection.', labels: ['cluster', 'endpoint'] },
  outlier_ejected: { type: 'gauge', help: 'Endpoints currently ejected by outlier detection.', labels: ['cluster'] },
  health_checks_total: { type: 'counter', help: 'Active health checks by result.', labels: ['cluster', 'endpoint', 'result'] },
  endpoint_healthy: { type: 'gauge', help: 'Active health check verdict per endpoint (1 healthy, 0 not).', labels: ['cluster', 'endpoint'] },
  rate_limited_total: { type: 'counter', help: 'Requests refused by a local rate limit.', labels: [...route, 'scope'] },
  faults_injected_total: { type: 'counter', help: 'Faults injected, by kind (delay, abort, reset).', labels: [...route, 'kind'] },
  failovers_total: { type: 'counter', help: 'Requests sent to a failover destination because the primary had no healthy endpoint.', labels: [...route, 'from', 'to'] },
} as const satisfies Record<string, StatSpec>;

type Families = ReturnType<ProxyTelemetry['metrics']['register']>;
const cache = new WeakMap<ProxyTelemetry, { [K in keyof typeof RESILIENCE_STATS]: Families[string] }>();

export function resilienceStats(t: ProxyTelemetry): { [K in keyof typeof RESILIENCE_STATS]: Families[string] } {
  let s = cache.get(t);
  if (s === undefined) {
    s = t.metrics.register(METRIC_PREFIX, RESILIENCE_STATS);
    cache.set(t, s);
  }
  return s;
}
