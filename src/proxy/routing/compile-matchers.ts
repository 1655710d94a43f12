// Route predicates compiled once per snapshot: hosts into exact/suffix sets,
// paths and headers into closures with their regexes built here, never per request.
import type { HeaderMatch, RouteMatch } from '../../shared/snapshot.ts';

export type HostMatcher = (host: string) => boolean;
export type PathMatcher = (path: string) => boolean;
export type HeaderMatcher = (headers: Record<string, string | string[] | undefined>) => boolean;

/** "*" matches anything, "*.example" any subdomain of example, else exact (case-insensitive; host given lowercase without port). */
export function compileHosts(hosts: readonly string[] | undefined): HostMatcher | undefined {
  if (!hosts || hosts.length === 0 || hosts.includes('*')) return undefined;
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const h of hosts) {
    if (h.startsWith('*.')) suffixes.push(h.slice(1));
    else exact.add(h);
  }
  return (host) => {
    if (exact.has(host)) return true;
    for (const s of suffixes) if (host.length > s.length && host.endsWith(s)) return true;
    return false;
  };
}

export function compilePath(path: RouteMatch['path']): PathMatcher | undefined {
  if (!path) return undefined;
  if ('exact' in path) {
    const v = path.exact;
    return (p) => p === v;
  }
  if ('prefix' in path) {
    const v = path.prefix;
    if (v === '/') return undefined;
    return (p) => p.startsWith(v);
  }
  // Anchored: a regex route matches the whole path, as Envoy's safe_regex does.
  const re = new RegExp(`^(?:${path.regex})$`);
  return (p) => re.test(p);
}

function compileHeader(m: HeaderMatch): HeaderMatcher {
  const name = m.name;
  let test: (v: string) => boolean;
  if (m.exact !== undefined) {
    const e = m.exact;
    test = (v) => v === e;
  } else if (m.prefix !== undefined) {
    const p = m.prefix;
    test = (v) => v.startsWith(p);
  } else if (m.regex !== undefined) {
    const re = new RegExp(`^(?:${m.regex})$`);
    test = (v) => re.test(v);
  } else {
    test = () => true;
  }
  const mustBePresent = m.present !== false;
  const invert = m.invert;
  return (headers) => {
    const raw = headers[name];
    const v = Array.isArray(raw) ? raw.join(',') : raw;
    const hit = v === undefined ? !mustBePresent : mustBePresent && test(v);
    return invert ? !hit : hit;
  };
}

export function compileHeaders(headers: readonly HeaderMatch[] | undefined): HeaderMatcher | undefined {
  if (!headers || headers.length === 0) return undefined;
  const all = headers.map(compileHeader);
  if (all.length === 1) return all[0];
  return (h) => {
    for (const m of all) if (!m(h)) return false;
    return true;
  };
}

export function compileMethods(methods: readonly string[] | undefined): ((m: string) => boolean) | undefined {
  if (!methods || methods.length === 0) return undefined;
  const set = new Set(methods);
  return (m) => set.has(m);
}
