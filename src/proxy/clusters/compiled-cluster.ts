// A cluster as compiled for one snapshot: its healthy endpoints behind a load
// balancer. Frozen per snapshot; the endpoints' live state is shared.
import type { Cluster } from '../../shared/snapshot.ts';
import type { EndpointRegistry } from './endpoint-registry.ts';
import type { LoadBalancer } from './load-balancers/load-balancer.ts';
import { createLoadBalancer } from './load-balancers/create-load-balancer.ts';
import { DEFAULT_CONNECT_TIMEOUT_MS, type UpstreamEndpoint } from './upstream-endpoint.ts';

export class CompiledCluster {
  readonly name: string;
  readonly service: string;
  readonly protocol: Cluster['protocol'];
  readonly endpoints: readonly UpstreamEndpoint[];
  readonly lb: LoadBalancer;
  readonly spec: Cluster;
  // The version label of each endpoint (mesh.version), for per-version metrics
  // that canary analysis reads. Empty when endpoints carry no version.
  readonly #versions = new Map<UpstreamEndpoint, string>();

  constructor(spec: Cluster, registry: EndpointRegistry) {
    this.spec = spec;
    this.name = spec.name;
    this.service = spec.service ?? spec.name;
    // HTTP between sidecars over mTLS is always HTTP/2 (one multiplexed session per peer pair).
    this.protocol = spec.tls?.enabled && spec.protocol === 'http1' ? 'http2' : spec.protocol;
    const healthy = spec.endpoints.filter((e) => e.healthy);
    const tls = spec.tls?.enabled ? { cluster: spec.name, service: this.service, spiffeId: spec.tls.spiffeId, serverName: spec.tls.serverName } : undefined;
    const pool = { maxConnections: spec.connectionLimits.maxConnections, connectTimeoutMs: spec.timeouts?.connectMs || DEFAULT_CONNECT_TIMEOUT_MS };
    this.endpoints = healthy.map((e) => registry.acquire(this.protocol, e.address, e.port, pool, tls));
    this.lb = createLoadBalancer(spec.lb, this.endpoints, healthy.map((e) => e.weight));
    healthy.forEach((e, i) => this.#versions.set(this.endpoints[i]!, e.labels.version ?? ''));
  }

  versionOf(endpoint: UpstreamEndpoint | undefined): string {
    return endpoint === undefined ? '' : (this.#versions.get(endpoint) ?? '');
  }

  /** Every endpoint key this cluster uses, healthy or not (pools are kept for both). */
  endpointKeys(): string[] {
    return this.endpoints.map((e) => e.key);
  }
}
