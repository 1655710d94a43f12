// Live health of one upstream endpoint, shared by every snapshot that uses it
// (endpoints outlive snapshots): active health-check verdict, outlier
// ejection and its growing backoff. Kept beside the endpoint, not in it.
import type { UpstreamEndpoint } from './upstream-endpoint.ts';

export class EndpointHealth {
  /** Active health check verdict (true until a checker says otherwise). */
  checkHealthy = true;
  /** Outlier ejection: no new requests before this time (ms since epoch). */
  ejectedUntil = 0;
  /** How many times it was ejected (the backoff grows with it). */
  ejections = 0;
  /** Consecutive 5xx / gateway errors seen by outlier detection. */
  consecutiveErrors = 0;

  available(nowMs: number): boolean {
    return this.checkHealthy && this.ejectedUntil <= nowMs;
  }
}

const health = new WeakMap<UpstreamEndpoint, EndpointHealth>();

export function healthOf(ep: UpstreamEndpoint): EndpointHealth {
  let h = health.get(ep);
  if (h === undefined) {
    h = new EndpointHealth();
    health.set(ep, h);
  }
  return h;
}
