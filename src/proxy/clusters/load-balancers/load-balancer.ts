// A load balancer picks one endpoint from a cluster's healthy set.
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';

export interface LoadBalancer {
  pick(): UpstreamEndpoint | undefined;
}
