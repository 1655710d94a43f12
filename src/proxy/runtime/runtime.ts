// The immutable result of compiling one snapshot. The proxy holds exactly one
// reference to the live Runtime and swaps it whole.
import type { Snapshot } from '../../shared/snapshot.ts';
import type { CompiledListener } from './compiled-listener.ts';
import type { CompiledCluster } from '../clusters/compiled-cluster.ts';

export interface Runtime {
  readonly snapshot: Snapshot;
  readonly version: number;
  readonly hash: string;
  readonly listeners: ReadonlyMap<string, CompiledListener>;
  readonly clusters: ReadonlyMap<string, CompiledCluster>;
  /** Keys of every upstream endpoint this runtime uses. */
  readonly endpointKeys: ReadonlySet<string>;
}
