// The last handler of every chain: weighted destination, then the cluster's
// load balancer, then the forwarder for the cluster's protocol.
import type { Handler } from './filter.ts';
import { pickUpstream } from './pick-upstream.ts';
import { forwardHttp1 } from '../clusters/http1-forwarder.ts';
import { forwardHttp2 } from '../clusters/http2-forwarder.ts';
import { forwardUpgrade } from '../clusters/upgrade-forwarder.ts';

export const routeToUpstream: Handler = (ex) => {
  // Destination, available endpoint, failover and circuit breaker (it answers the client when none fits,
  // or calls forward later when the request waits for a cluster's first endpoint).
  if (pickUpstream(ex, forward)) forward(ex);
};

const forward: Handler = (ex) => {
  const cluster = ex.cluster!;
  const ep = ex.endpoint!;
  if (ex.socket !== undefined) forwardUpgrade(ex, ep);
  else if (cluster.protocol === 'http2') forwardHttp2(ex, ep);
  else forwardHttp1(ex, ep);
};
