// What the forwarders tell the retry filter about one upstream attempt, so it
// can discard a failed attempt before the client sees anything and try again.
import type { ProxyErrorReason } from './send-proxy-error.ts';
import type { CompiledCluster } from '../clusters/compiled-cluster.ts';
import type { UpstreamEndpoint } from '../clusters/upstream-endpoint.ts';

export interface AttemptObserver {
  /** Circuit breaking before the attempt is sent: the limit hit, or undefined when admitted. */
  admit(cluster: CompiledCluster, ep: UpstreamEndpoint): string | undefined;
  /** The request left the pending queue: it is being written to a connection. */
  started(attempt: number): void;
  /**
   * Response head arrived. True: discard this attempt (the observer retries or answers). `meshError`: the
   * x-mesh-error of a 503 (a peer proxy's own refusal), undefined otherwise.
   */
  response(status: number, grpcStatus: string | undefined, meshError?: string): boolean;
  /** The attempt failed. True: the observer answers the client (retry or its own error). */
  failed(reason: ProxyErrorReason, code: string, responded: boolean): boolean;
  /** The attempt is over, however it ended. Called once per attempt. */
  finished(attempt: number): void;
}
