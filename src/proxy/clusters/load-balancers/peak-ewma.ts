// Peak-EWMA with the power of two choices (Finagle, linkerd2-proxy): of two
// sampled endpoints, the one with the lower latency estimate × (in flight + 1).
import { hrtime } from 'node:process';
import { PowerOfTwoChoices } from './power-of-two-choices.ts';
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';

export class PeakEwma extends PowerOfTwoChoices {
  protected prefer(b: UpstreamEndpoint, a: UpstreamEndpoint): boolean {
    const now = hrtime.bigint();
    return b.cost(now) < a.cost(now);
  }
}
