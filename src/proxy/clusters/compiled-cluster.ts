// A cluster as compiled for one snapshot: its healthy endpoints behind a load
// balancer. Frozen per snapshot; the endpoints' live state is shared.
import type { Cluster } from '../../shared/snapshot.ts';
import type { EndpointRegistry } from './endpoint-registry.ts';
import type { LoadBalancer } from './load-balancers/load-balancer.ts';
import { createLoadBalancer } from './load-balancers/create-load-balancer.ts';
import type { UpstreamEndpoint } from './upstream-endpoint.ts';

export class CompiledCluster {
  readonly name: string;
  readonly service: string;
  readonly protocol: Cluster['protocol'];
  readonly endpoints: readonly UpstreamEndpoint[];
  readonly lb: LoadBalancer;
  readonly spec: Cluster;

  constructor(spec: Cluster, registry: EndpointRegistry) {
    this.spec = spec;
    this.name = spec.name;
    this.service = spec.service ?? spec.name;
    this.protocol = spec.protocol;
    const healthy = spec.endpoints.filter((e) => e.healthy);
    this.endpoints = healthy.map((e) => registry.acquire(spec.protocol, e.address, e.port, spec.connectionLimits.maxConnections));
    this.lb = createLoadBalancer(spec.lb, this.endpoints, healthy.map((e) => e.weight));
  }

  /** Every endpoint key this cluster uses, healthy or not (pools are kept for both). */
  endpointKeys(): string[] {
    return this.endpoints.map((e) => e.key);
  }
}
