// Least request with the power of two choices: of two sampled endpoints, the
// one with fewer requests in flight (Envoy's LEAST_REQUEST default).
import { PowerOfTwoChoices } from './power-of-two-choices.ts';
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';

export class LeastRequest extends PowerOfTwoChoices {
  protected prefer(b: UpstreamEndpoint, a: UpstreamEndpoint): boolean {
    return b.inflight < a.inflight;
  }
}
