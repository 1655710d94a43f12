// What a hop is: one proxy process between the load generator and the upstream.
// A scenario is a chain of hops; each hop kind has a starter in hop-kinds.ts.
import type { ProcessGroup, Started } from '../lib/process-group.ts';
import type { SnapshotInput } from '../../src/shared/snapshot.ts';

export interface Address {
  host: string;
  port: number;
}

export interface HopSpec {
  kind: 'meshctl-http' | 'meshctl-tcp' | 'haproxy-http' | 'haproxy-tcp' | 'node-http-proxy';
  /**
   * meshctl hops only: change the generated snapshot (policies on, mTLS, ...).
   * Gets the hop's place in the chain so a pair can be configured together.
   */
  snapshot?: (s: SnapshotInput, hop: { index: number; count: number; tmpDir: string }) => SnapshotInput | Promise<SnapshotInput>;
  /** meshctl hops only: extra CLI arguments (mTLS certificate files, ...). */
  args?: (hop: { index: number; count: number; tmpDir: string }) => string[] | Promise<string[]>;
}

export interface HopContext {
  procs: ProcessGroup;
  tmpDir: string;
  /** Where this hop forwards to: the next hop, or the upstream. */
  target: Address;
  /** 0 is the hop the client talks to (the client sidecar). */
  index: number;
  count: number;
  spec: HopSpec;
}

export interface StartedHop {
  listen: Address;
  process: Started;
  /** meshctl hops: the admin server (/ready, /metrics). */
  admin?: Address;
}

/** A hop that cannot run here (e.g. the proxy is not written yet): the scenario reports why instead of failing the run. */
export class HopUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HopUnavailable';
  }
}
