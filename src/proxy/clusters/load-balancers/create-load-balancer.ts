// Load balancers by the snapshot's `lb` name, looked up in a table.
import type { LoadBalancer } from './load-balancer.ts';
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';
import { RoundRobin } from './round-robin.ts';
import { LeastRequest } from './least-request.ts';
import { PeakEwma } from './peak-ewma.ts';

type Factory = (endpoints: readonly UpstreamEndpoint[], weights: readonly number[]) => LoadBalancer;

const factories: Record<'round_robin' | 'least_request' | 'peak_ewma', Factory> = {
  round_robin: (eps, w) => new RoundRobin(eps, w),
  least_request: (eps) => new LeastRequest(eps),
  peak_ewma: (eps) => new PeakEwma(eps),
};

export function createLoadBalancer(kind: keyof typeof factories, endpoints: readonly UpstreamEndpoint[], weights: readonly number[]): LoadBalancer {
  return factories[kind](endpoints, weights);
}
