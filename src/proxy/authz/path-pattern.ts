// Compiles an authorization path pattern once: "/exact", "/prefix*" (any
// rest, across segments), or a glob where "*" stays within one segment and
// "**" crosses segments ("/api/*/items", "/v1/**/health").
export type PathMatcher = (path: string) => boolean;

export function compilePathPattern(pattern: string): PathMatcher {
  if (pattern === '*' || pattern === '/*' || pattern === '**') return () => true;
  const star = pattern.indexOf('*');
  if (star === -1) return (p) => p === pattern;
  if (star === pattern.length - 1) {
    const prefix = pattern.slice(0, -1);
    return (p) => p.startsWith(prefix);
  }
  let src = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      src += '.*';
      i++;
    } else if (c === '*') {
      // A trailing "*" keeps its prefix meaning: anything, across segments.
      src += i === pattern.length - 1 ? '.*' : '[^/]*';
    } else {
      src += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  const re = new RegExp(`^${src}$`);
  return (p) => re.test(p);
}

/**
 * The path a rule sees: no query or fragment, dot segments resolved, so
 * "/public/../admin" cannot slip past a rule on "/admin*".
 */
export function normalizePath(raw: string): string {
  let path = raw;
  const cut = path.search(/[?#]/);
  if (cut !== -1) path = path.slice(0, cut);
  // %2E / %2F spelled dots and slashes are what upstreams decode into traversal.
  path = path.replace(/%2e/gi, '.').replace(/%2f/gi, '/');
  if (!path.startsWith('/')) path = `/${path}`;
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const last = segments[segments.length - 1];
  const trailing = last === '.' || last === '..' ? '/' : '';
  return `/${out.join('/')}${trailing && out.length ? trailing : ''}`;
}
