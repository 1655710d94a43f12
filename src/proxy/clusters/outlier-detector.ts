// Outlier detection (passive health): consecutive 5xx or gateway errors from
// one endpoint eject it for baseEjectionMs × times ejected (capped), never
// more than maxEjectionPercent of the cluster; it comes back when that ends.
import type { CompiledCluster } from './compiled-cluster.ts';
import type { UpstreamEndpoint } from './upstream-endpoint.ts';
import { healthOf } from './endpoint-health.ts';
import type { ProxyTelemetry } from '../telemetry/proxy-telemetry.ts';
import { resilienceStats } from '../telemetry/resilience-stats.ts';

export function recordOutcome(cluster: CompiledCluster, ep: UpstreamEndpoint, ok: boolean, telemetry: ProxyTelemetry | undefined): void {
  const od = cluster.spec.outlierDetection;
  if (od === undefined) return;
  const h = healthOf(ep);
  if (ok) {
    h.consecutiveErrors = 0;
    return;
  }
  if (++h.consecutiveErrors < od.consecutiveErrors) return;
  h.consecutiveErrors = 0;
  const now = Date.now();
  if (h.ejectedUntil > now) return;
  let ejected = 0;
  for (const e of cluster.endpoints) if (healthOf(e).ejectedUntil > now) ejected++;
  // As Envoy: one endpoint may always be ejected, more only within the percentage.
  if (ejected > 0 && (ejected + 1) * 100 > od.maxEjectionPercent * cluster.endpoints.length) return;
  h.ejections++;
  const ms = Math.min(od.baseEjectionMs * h.ejections, od.maxEjectionMs);
  h.ejectedUntil = now + ms;
  if (telemetry === undefined) return;
  const stats = resilienceStats(telemetry);
  stats.outlier_ejections_total.with(cluster.name, ep.hostPort).value++;
  const gauge = stats.outlier_ejected.with(cluster.name);
  gauge.value++;
  setTimeout(() => gauge.value--, ms).unref();
}
