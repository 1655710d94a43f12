// Picks an endpoint the load balancer offers that can take new requests: not
// failing active health checks, not ejected, and (for a retry) preferably not
// one already tried. When every endpoint that passes its health checks is
// ejected by outlier detection, one of them is used anyway (Envoy's panic
// routing): passive ejection must never cut a service off entirely. Undefined
// only when active health checks fail them all (then failover applies).
import type { CompiledCluster } from './compiled-cluster.ts';
import type { UpstreamEndpoint } from './upstream-endpoint.ts';
import { healthOf } from './endpoint-health.ts';

export function pickEndpoint(cluster: CompiledCluster, avoid: readonly UpstreamEndpoint[] | undefined): UpstreamEndpoint | undefined {
  const eps = cluster.endpoints;
  if (eps.length === 0) return undefined;
  const now = Date.now();
  // The balancer's choice first (a few draws), then a scan so one bad pick never fails the request.
  for (let i = 0; i < 3; i++) {
    const ep = cluster.lb.pick();
    if (ep !== undefined && healthOf(ep).available(now) && (avoid === undefined || !avoid.includes(ep))) return ep;
  }
  let fallback: UpstreamEndpoint | undefined;
  let panic: UpstreamEndpoint | undefined;
  const start = (Math.random() * eps.length) | 0;
  for (let i = 0; i < eps.length; i++) {
    const ep = eps[(start + i) % eps.length]!;
    const h = healthOf(ep);
    if (!h.available(now)) {
      if (h.checkHealthy && (panic === undefined || (avoid?.includes(panic) && !avoid.includes(ep)))) panic = ep;
      continue;
    }
    if (avoid === undefined || !avoid.includes(ep)) return ep;
    fallback ??= ep;
  }
  // Every available endpoint was tried already: retrying one beats failing.
  return fallback ?? panic;
}
