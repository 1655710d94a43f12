// A listener's HTTP routes in order, first match wins. Each route carries its
// destination picker and its filter chain, both built once per snapshot.
import type { Route } from '../../shared/snapshot.ts';
import { compileHeaders, compileHosts, compileMethods, compilePath, type HeaderMatcher, type HostMatcher, type PathMatcher } from './compile-matchers.ts';
import { WeightedPicker } from './weighted-picker.ts';
import type { CompiledCluster } from '../clusters/compiled-cluster.ts';
import type { Handler } from '../filters/filter.ts';

export class CompiledRoute {
  readonly name: string;
  readonly spec: Route;
  readonly destinations: WeightedPicker<CompiledCluster>;
  /** Where traffic goes when every primary destination has no healthy endpoint left. */
  readonly failover: { readonly clusters: readonly CompiledCluster[]; readonly weights: readonly number[] } | undefined;
  /** Destination service for metrics and logs: the route's, else this service when inbound, else its first cluster's. */
  readonly service: string;
  private readonly host: HostMatcher | undefined;
  private readonly path: PathMatcher | undefined;
  private readonly method: ((m: string) => boolean) | undefined;
  private readonly headers: HeaderMatcher | undefined;
  /** The filter chain ending in the upstream call; set by the runtime compiler. */
  handler!: Handler;

  /** `localService`: for inbound listeners, the service the traffic is for (this proxy's own). */
  constructor(spec: Route, clusters: ReadonlyMap<string, CompiledCluster>, localService?: string) {
    this.spec = spec;
    this.name = spec.name;
    const cs = spec.destinations.map((d) => clusters.get(d.cluster)!);
    this.destinations = new WeightedPicker(cs, spec.destinations.map((d) => d.weight));
    // The snapshot schema has checked that every failover cluster exists.
    this.failover = spec.failover && {
      clusters: spec.failover.destinations.map((d) => clusters.get(d.cluster)!),
      weights: spec.failover.destinations.map((d) => d.weight),
    };
    this.service = spec.service ?? localService ?? cs[0]!.service;
    this.host = compileHosts(spec.match.hosts);
    this.path = compilePath(spec.match.path);
    this.method = compileMethods(spec.match.methods);
    this.headers = compileHeaders(spec.match.headers);
  }

  matches(host: string, path: string, method: string, headers: Record<string, string | string[] | undefined>): boolean {
    if (this.host !== undefined && !this.host(host)) return false;
    if (this.path !== undefined && !this.path(path)) return false;
    if (this.method !== undefined && !this.method(method)) return false;
    if (this.headers !== undefined && !this.headers(headers)) return false;
    return true;
  }
}

export class RouteTable {
  readonly routes: readonly CompiledRoute[];
  constructor(routes: readonly CompiledRoute[]) {
    this.routes = routes;
  }
  match(host: string, path: string, method: string, headers: Record<string, string | string[] | undefined>): CompiledRoute | undefined {
    const rs = this.routes;
    for (let i = 0; i < rs.length; i++) if (rs[i]!.matches(host, path, method, headers)) return rs[i];
    return undefined;
  }
}

/** Lowercase host without port; handles "[v6]:port". */
export function normalizeHost(raw: string | undefined): string {
  if (!raw) return '';
  let h = raw;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const end = h.indexOf(']');
    h = end === -1 ? h : h.slice(1, end);
  } else {
    const colon = h.indexOf(':');
    if (colon !== -1) h = h.slice(0, colon);
  }
  return h.toLowerCase();
}
