// The power of two choices (Mitzenmacher): sample two distinct endpoints at
// random and keep the one the cost function ranks lower. Least request and
// peak-EWMA differ only in their cost.
import type { LoadBalancer } from './load-balancer.ts';
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';

export abstract class PowerOfTwoChoices implements LoadBalancer {
  private readonly endpoints: readonly UpstreamEndpoint[];
  constructor(endpoints: readonly UpstreamEndpoint[]) {
    this.endpoints = endpoints;
  }

  /** True when b should be picked over a. */
  protected abstract prefer(b: UpstreamEndpoint, a: UpstreamEndpoint): boolean;

  pick(): UpstreamEndpoint | undefined {
    const eps = this.endpoints;
    const n = eps.length;
    if (n <= 1) return eps[0];
    const i = (Math.random() * n) | 0;
    let j = (Math.random() * (n - 1)) | 0;
    if (j >= i) j++;
    const a = eps[i]!;
    const b = eps[j]!;
    return this.prefer(b, a) ? b : a;
  }
}
