// Circuit breaking per cluster (Envoy's thresholds): requests in flight,
// requests waiting for a connection, and opaque TCP connections. Over a limit
// the request is refused at once (503 circuit-open; TCP: closed), never queued.
import type { CompiledCluster } from './compiled-cluster.ts';
import type { UpstreamEndpoint } from './upstream-endpoint.ts';

export class CircuitBreaker {
  active = 0;
  pending = 0;
  /** Opaque TCP connections open to the cluster's endpoints (capped by maxConnections). */
  tcpConnections = 0;

  /**
   * Whether a request to `ep` will wait for a connection: HTTP/1 pools hold
   * maxConnections per endpoint, so an endpoint with that many in flight queues the next one.
   */
  static wouldWait(cluster: CompiledCluster, ep: UpstreamEndpoint): boolean {
    return cluster.protocol === 'http1' && ep.inflight >= cluster.spec.connectionLimits.maxConnections;
  }

  /** The limit that refuses a new opaque TCP connection, or undefined. */
  tcpRefusal(cluster: CompiledCluster): string | undefined {
    const max = cluster.spec.connectionLimits.maxConnections;
    return this.tcpConnections >= max ? `max-connections ${max}` : undefined;
  }

  /** The limit that refuses this request, or undefined. */
  refusal(cluster: CompiledCluster, pending: boolean): string | undefined {
    const limits = cluster.spec.connectionLimits;
    if (this.active >= limits.maxRequests) return `max-requests ${limits.maxRequests}`;
    if (pending && this.pending >= limits.maxPendingRequests) return `max-pending-requests ${limits.maxPendingRequests}`;
    return undefined;
  }
}

// One breaker per compiled cluster: counts restart with a snapshot that
// recompiles the cluster (requests in flight then count on the old one).
const breakers = new WeakMap<CompiledCluster, CircuitBreaker>();

export function breakerOf(cluster: CompiledCluster): CircuitBreaker {
  let b = breakers.get(cluster);
  if (b === undefined) {
    b = new CircuitBreaker();
    breakers.set(cluster, b);
  }
  return b;
}
