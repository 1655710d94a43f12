// A route's failover destinations, compiled once per snapshot: where traffic
// goes when every primary destination has no healthy endpoint left.
import type { CompiledRoute } from './route-table.ts';
import type { CompiledCluster } from '../clusters/compiled-cluster.ts';

export interface CompiledFailover {
  readonly clusters: readonly CompiledCluster[];
  readonly weights: readonly number[];
}

const failovers = new WeakMap<CompiledRoute, CompiledFailover>();

/** Throws (a compile error with the route's path) when a failover cluster is unknown. */
export function compileFailover(route: CompiledRoute, clusters: ReadonlyMap<string, CompiledCluster> | undefined): void {
  const spec = route.spec.failover;
  if (spec === undefined) return;
  const cs = spec.destinations.map((d) => {
    const c = clusters?.get(d.cluster);
    if (c === undefined) throw new Error(`failover cluster "${d.cluster}" is not in clusters`);
    return c;
  });
  failovers.set(route, { clusters: cs, weights: spec.destinations.map((d) => d.weight) });
}

export function failoverOf(route: CompiledRoute): CompiledFailover | undefined {
  return failovers.get(route);
}
