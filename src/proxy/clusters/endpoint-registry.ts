// Upstream endpoints by key, shared by every runtime: compiling a snapshot
// takes endpoints from here, so pools survive a swap; endpoints no runtime
// uses any more are closed after the swap.
import { UpstreamEndpoint, type UpstreamProtocol } from './upstream-endpoint.ts';

export class EndpointRegistry {
  private readonly endpoints = new Map<string, UpstreamEndpoint>();

  acquire(protocol: UpstreamProtocol, address: string, port: number, maxConnections: number): UpstreamEndpoint {
    const key = UpstreamEndpoint.keyOf(protocol, address, port);
    let ep = this.endpoints.get(key);
    if (!ep) {
      ep = new UpstreamEndpoint(protocol, address, port, maxConnections);
      this.endpoints.set(key, ep);
    }
    return ep;
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
