// Weighted round robin: endpoints repeat by weight in a fixed ring.
import type { LoadBalancer } from './load-balancer.ts';
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';

const MAX_RING = 10_000;

export class RoundRobin implements LoadBalancer {
  private readonly ring: UpstreamEndpoint[];
  private next = 0;
  constructor(endpoints: readonly UpstreamEndpoint[], weights: readonly number[]) {
    const total = weights.reduce((a, b) => a + b, 0);
    const scale = total > MAX_RING ? MAX_RING / total : 1;
    this.ring = [];
    // Interleave so weight 3:1 gives a a b a, not a a a b.
    const reps = weights.map((w) => Math.max(1, Math.round(w * scale)));
    const max = Math.max(0, ...reps);
    for (let round = 0; round < max; round++) {
      for (let i = 0; i < endpoints.length; i++) if (round < reps[i]!) this.ring.push(endpoints[i]!);
    }
  }
  pick(): UpstreamEndpoint | undefined {
    const n = this.ring.length;
    if (n === 0) return undefined;
    const ep = this.ring[this.next]!;
    this.next = this.next + 1 === n ? 0 : this.next + 1;
    return ep;
  }
}
