// A listener as compiled for one snapshot: its route table, its opaque-TCP
// destinations and the service names used in telemetry.
import type { Listener } from '../../shared/snapshot.ts';
import type { RouteTable } from '../routing/route-table.ts';
import type { WeightedPicker } from '../routing/weighted-picker.ts';
import type { CompiledCluster } from '../clusters/compiled-cluster.ts';

export interface CompiledListener {
  readonly name: string;
  readonly spec: Listener;
  readonly direction: 'inbound' | 'outbound';
  readonly routes: RouteTable;
  readonly tcp: { readonly destinations: WeightedPicker<CompiledCluster>; readonly service: string } | undefined;
  /** Who sends traffic into this listener: this service when outbound; unknown until mTLS names the peer. */
  readonly sourceService: string;
  /** Who receives it when no route names one (inbound: this service). */
  readonly localService: string;
}
