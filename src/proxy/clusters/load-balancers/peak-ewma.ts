// Peak-EWMA with the power of two choices (Finagle, linkerd2-proxy): sample two
// endpoints, take the one with the lower latency estimate × (in flight + 1).
import { hrtime } from 'node:process';
import type { LoadBalancer } from './load-balancer.ts';
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';

export class PeakEwma implements LoadBalancer {
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
    const now = hrtime.bigint();
    return b.cost(now) < a.cost(now) ? b : a;
  }
}
