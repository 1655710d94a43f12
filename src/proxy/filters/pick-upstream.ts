// Chooses the cluster and endpoint of one attempt: weighted destination, an
// available endpoint (health checks, outlier ejection, retry preference),
// failover when the destination has none, then the circuit breaker. Answers
// the client itself and returns false when nothing can take the request. A
// destination with no endpoint at all (its sidecar being recreated) queues
// the request until a snapshot brings one (bounded count and time), then
// calls `resume` with the pick made.
import type { Exchange } from '../http/exchange.ts';
import { sendProxyError } from '../http/send-proxy-error.ts';
import type { CompiledCluster } from '../clusters/compiled-cluster.ts';
import type { UpstreamEndpoint } from '../clusters/upstream-endpoint.ts';
import { pickEndpoint } from '../clusters/pick-endpoint.ts';
import { resilienceStats } from '../telemetry/resilience-stats.ts';
import { ENDPOINT_WAIT_DEFAULTS, waitForEndpoints } from '../clusters/endpoint-waiters.ts';
import type { Handler } from './filter.ts';

export function pickUpstream(ex: Exchange, resume: Handler): boolean {
  const route = ex.route!;
  const primary = route.destinations.pick();
  if (primary === undefined) {
    sendProxyError(ex, 'no-healthy-endpoint', `${route.name} (all destination weights are 0)`);
    return false;
  }
  return pickIn(ex, primary, resume);
}

function pickIn(ex: Exchange, primary: CompiledCluster, resume: Handler): boolean {
  const route = ex.route!;
  let cluster: CompiledCluster = primary;
  let ep: UpstreamEndpoint | undefined = pickEndpoint(primary, ex.avoid);
  if (ep === undefined) {
    const fo = route.failover;
    if (fo !== undefined) {
      const to = pickFailover(fo.clusters, fo.weights, ex.avoid);
      if (to !== undefined) {
        cluster = to.cluster;
        ep = to.ep;
        ex.failover = `${primary.name}>${cluster.name}`;
        if (ex.telemetry !== undefined) {
          const l = ex.listener;
          resilienceStats(ex.telemetry).failovers_total.with(l.direction, l.name, route.name, primary.name, cluster.name).value++;
        }
      }
    }
    if (ep === undefined) {
      if (primary.endpoints.length === 0 && waitForOne(ex, primary, resume)) return false;
      sendProxyError(ex, 'no-healthy-endpoint', fo === undefined ? primary.name : `${primary.name} (failover ${fo.clusters.map((c) => c.name).join(',')} has none either)`);
      return false;
    }
  }
  ex.cluster = cluster;
  ex.endpoint = ep;
  const refused = ex.attemptObserver?.admit(cluster, ep);
  if (refused !== undefined) {
    if (ex.telemetry !== undefined) resilienceStats(ex.telemetry).circuit_open_total.with(cluster.name, refused.slice(0, refused.indexOf(' '))).value++;
    sendProxyError(ex, 'circuit-open', `${cluster.name} ${refused}`);
    return false;
  }
  return true;
}

/** Queues the request for `cluster` (false: the queue is full or waiting is off, fail now). */
function waitForOne(ex: Exchange, cluster: CompiledCluster, resume: Handler): boolean {
  const w = cluster.spec.endpointWait;
  let ms: number = w?.maxMs ?? ENDPOINT_WAIT_DEFAULTS.maxMs;
  // Never past the request's own deadline (route over listener, as the retry filter reads it).
  const requestMs = ex.route!.spec.timeouts?.requestMs || ex.listener.spec.timeouts?.requestMs;
  if (requestMs) ms = Math.min(ms, requestMs - (Date.now() - ex.startMs));
  const attempt = ex.attempt;
  return waitForEndpoints(cluster, ms, w?.maxQueued ?? ENDPOINT_WAIT_DEFAULTS.maxQueued, (next) => {
    // The client left, a timeout answered, or a per-try timeout moved on to another attempt.
    if (ex.done || ex.ended || ex.attempt !== attempt) return;
    if (next === undefined || next.endpoints.length === 0) {
      // Timed out, or the cluster left the snapshot: the same answer a proxy that does not wait gives.
      sendProxyError(ex, 'no-healthy-endpoint', cluster.name);
      return;
    }
    if (pickIn(ex, next, resume)) resume(ex);
  });
}

function pickFailover(
  clusters: readonly CompiledCluster[],
  weights: readonly number[],
  avoid: readonly UpstreamEndpoint[] | undefined,
): { cluster: CompiledCluster; ep: UpstreamEndpoint } | undefined {
  const ready: { cluster: CompiledCluster; ep: UpstreamEndpoint; w: number }[] = [];
  let total = 0;
  for (let i = 0; i < clusters.length; i++) {
    const ep = pickEndpoint(clusters[i]!, avoid);
    if (ep !== undefined && weights[i]! > 0) {
      ready.push({ cluster: clusters[i]!, ep, w: weights[i]! });
      total += weights[i]!;
    }
  }
  let r = Math.random() * total;
  for (const c of ready) if ((r -= c.w) < 0) return c;
  return ready[0];
}
