// Least request with the power of two choices: sample two endpoints, take the
// one with fewer requests in flight (Envoy's LEAST_REQUEST default).
import type { LoadBalancer } from './load-balancer.ts';
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';

export class LeastRequest implements LoadBalancer {
  private readonly endpoints: readonly UpstreamEndpoint[];
  constructor(endpoints: readonly UpstreamEndpoint[]) {
    this.endpoints = endpoints;
  }
  pick(): UpstreamEndpoint | undefined {
    const eps = this.endpoints;
    const n = eps.length;
    if (n <= 1) return eps[0];
    const i = (Math.random() * n) | 0;
    let j = (Math.random() * (n - 1)) | 0;
    if (j >= i) j++;
    const a = eps[i]!;
    const b = eps[j]!;
    return b.inflight < a.inflight ? b : a;
  }
}
