// Upstream endpoints by key, shared by every runtime: compiling a snapshot
// takes endpoints from here, so pools survive a swap; endpoints no runtime
// uses any more are closed after the swap.
import { UpstreamEndpoint, type UpstreamProtocol } from './upstream-endpoint.ts';

export interface PoolSettings {
  maxConnections: number;
  connectTimeoutMs: number;
}
import type { WorkloadIdentity } from '../identity/workload-identity.ts';
import { tlsOrigination, type TlsOriginationSpec } from '../identity/tls-origination.ts';
import type { TLS_STATS } from '../telemetry/tls-stats.ts';
import type { MetricFamily } from '../telemetry/metrics-registry.ts';

export class EndpointRegistry {
  private readonly endpoints = new Map<string, UpstreamEndpoint>();
  /** Set by startProxy when the proxy holds an identity: mTLS clusters originate TLS with it. */
  tls: { identity: WorkloadIdentity; stats: Record<keyof typeof TLS_STATS, MetricFamily> } | undefined;

  /**
   * The endpoint for these pool settings. Settings are part of the key: a
   * snapshot that changes a cluster's connection limit or connect timeout gets
   * a new pool (the old one drains once no runtime uses it), and an endpoint
   * two clusters share with different settings is two pools, never a last-writer-wins.
   */
  acquire(protocol: UpstreamProtocol, address: string, port: number, pool: PoolSettings, tls?: TlsOriginationSpec): UpstreamEndpoint {
    // An mTLS endpoint is a different pool from a plaintext one at the same address.
    const key =
      UpstreamEndpoint.keyOf(protocol, address, port) + `|c${pool.maxConnections}|t${pool.connectTimeoutMs}` + (tls ? `|mtls|${tls.spiffeId ?? tls.service}` : '');
    let ep = this.endpoints.get(key);
    if (!ep) {
      const origin = tls ? tlsOrigination(this.tls?.identity, this.tls?.stats.tls_client_handshakes_total, tls, address, port) : undefined;
      ep = new UpstreamEndpoint(protocol, address, port, pool.maxConnections, origin, key, pool.connectTimeoutMs);
      this.endpoints.set(key, ep);
    }
    return ep;
  }

  /**
   * After a certificate rotation: mTLS HTTP/2 sessions get GOAWAY (streams in
   * flight finish on the old certificate), the next request opens a session with
   * the new one. Without this a long-lived session would outlive its leaf.
   */
  recycleTlsSessions(): void {
    for (const ep of this.endpoints.values()) if (ep.tls) ep.closeSession();
  }

  /** Close every endpoint whose key is not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const [key, ep] of this.endpoints) {
      if (!keep.has(key)) {
        this.endpoints.delete(key);
        void ep.close();
      }
    }
  }

  all(): IterableIterator<UpstreamEndpoint> {
    return this.endpoints.values();
  }

  async destroyAll(): Promise<void> {
    const eps = [...this.endpoints.values()];
    this.endpoints.clear();
    await Promise.all(eps.map((e) => e.destroy()));
  }
}
