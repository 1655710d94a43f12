// A filter wraps the next handler: `(next) => handler`. Filters are built once
// per route per snapshot; per-request state lives on the Exchange.
import type { Exchange } from '../http/exchange.ts';
import type { CompiledRoute } from '../routing/route-table.ts';
import type { Snapshot } from '../../shared/snapshot.ts';
import type { CompiledListener } from '../runtime/compiled-listener.ts';

export type Handler = (ex: Exchange) => void;

export interface FilterContext {
  snapshot: Snapshot;
  listener: CompiledListener;
  route: CompiledRoute;
  /** The snapshot's compiled clusters by name (the mirror filter's target). */
  clusters?: ReadonlyMap<string, import('../clusters/compiled-cluster.ts').CompiledCluster>;
}

/** Returns the wrapped handler, or `next` itself when the filter has nothing to do on this route. */
export type Filter = (next: Handler, ctx: FilterContext) => Handler;
