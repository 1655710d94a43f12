// The last handler of every chain: weighted destination, then the cluster's
// load balancer, then the forwarder for the cluster's protocol.
import type { Handler } from './filter.ts';
import { sendProxyError } from '../http/send-proxy-error.ts';
import { forwardHttp1 } from '../clusters/http1-forwarder.ts';
import { forwardHttp2 } from '../clusters/http2-forwarder.ts';
import { forwardUpgrade } from '../clusters/upgrade-forwarder.ts';

export const routeToUpstream: Handler = (ex) => {
  const cluster = ex.route!.destinations.pick();
  if (cluster === undefined) {
    sendProxyError(ex, 'no-healthy-endpoint', `${ex.route!.name} (all destination weights are 0)`);
    return;
  }
  ex.cluster = cluster;
  const ep = cluster.lb.pick();
  if (ep === undefined) {
    sendProxyError(ex, 'no-healthy-endpoint', cluster.name);
    return;
  }
  ex.endpoint = ep;
  if (ex.socket !== undefined) forwardUpgrade(ex, ep);
  else if (cluster.protocol === 'http2') forwardHttp2(ex, ep);
  else forwardHttp1(ex, ep);
};
