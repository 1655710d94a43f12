// Compiles a validated snapshot into a Runtime: matchers, pickers, load
// balancers and filter chains are built here, once. Throws CompileError with
// the field path when something valid by schema cannot be built (a bad regex).
import type { Snapshot } from '../../shared/snapshot.ts';
import { formatPath } from '../../shared/snapshot.ts';
import type { Runtime } from './runtime.ts';
import type { CompiledListener } from './compiled-listener.ts';
import { CompiledCluster } from '../clusters/compiled-cluster.ts';
import type { EndpointRegistry } from '../clusters/endpoint-registry.ts';
import { CompiledRoute, RouteTable } from '../routing/route-table.ts';
import { WeightedPicker } from '../routing/weighted-picker.ts';
import { composeFilters } from '../filters/compose-filters.ts';

export class CompileError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`invalid snapshot: ${issues.join('; ')}`);
    this.issues = issues;
  }
}

function attempt<T>(path: (string | number)[], build: () => T): T {
  try {
    return build();
  } catch (err) {
    throw new CompileError([`${formatPath(path)}: ${(err as Error).message}`]);
  }
}

export function compileRuntime(snapshot: Snapshot, registry: EndpointRegistry): Runtime {
  const clusters = new Map<string, CompiledCluster>();
  const endpointKeys = new Set<string>();
  for (const c of snapshot.clusters) {
    const cc = new CompiledCluster(c, registry);
    clusters.set(c.name, cc);
    for (const k of cc.endpointKeys()) endpointKeys.add(k);
  }
  const listeners = new Map<string, CompiledListener>();
  const node = snapshot.node.service;
  snapshot.listeners.forEach((l, li) => {
    const routes = l.routes.map((r, ri) => attempt(['listeners', li, 'routes', ri, 'match'], () => new CompiledRoute(r, clusters, l.direction === 'inbound' ? node : undefined)));
    const tcp = l.tcp
      ? {
          destinations: new WeightedPicker(
            l.tcp.destinations.map((d) => clusters.get(d.cluster)!),
            l.tcp.destinations.map((d) => d.weight),
          ),
          service: l.tcp.service ?? clusters.get(l.tcp.destinations[0]!.cluster)!.service,
        }
      : undefined;
    const compiled: CompiledListener = {
      name: l.name,
      spec: l,
      direction: l.direction,
      routes: new RouteTable(routes),
      tcp,
      sourceService: l.direction === 'outbound' ? node : 'unknown',
      localService: l.direction === 'inbound' ? node : 'unknown',
    };
    routes.forEach((r, ri) => {
      r.handler = attempt(['listeners', li, 'routes', ri], () => composeFilters({ snapshot, listener: compiled, route: r, clusters }));
    });
    listeners.set(l.name, compiled);
  });
  return { snapshot, version: snapshot.version, hash: snapshot.hash!, listeners, clusters, endpointKeys };
}
