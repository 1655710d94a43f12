// `$` in compose values. Inside meshctl the model holds literal values (what
// the container sees); in a file every literal `$` is written `$$` so compose
// does not interpolate it again. `config` output differs: v1 writes `$$`, some
// v2 releases write `$`; load-compose.ts probes which and calls unescape.
import { isObj } from './compose-model.ts';

function mapStrings(v: unknown, f: (s: string) => string): unknown {
  if (typeof v === 'string') return f(v);
  if (Array.isArray(v)) return v.map((x) => mapStrings(x, f));
  if (isObj(v)) {
    const out: Record<string, unknown> = {};
    // Keys are never interpolated by compose, only values.
    for (const [k, x] of Object.entries(v)) out[k] = mapStrings(x, f);
    return out;
  }
  return v;
}

/** Literal values → file form. */
export function escapeDollars<T>(model: T): T {
  return mapStrings(model, (s) => s.replaceAll('$', '$$$$')) as T;
}

/** File form (every `$` doubled, as compose v1 `config` prints it) → literal values. */
export function unescapeDollars<T>(model: T): T {
  return mapStrings(model, (s) => s.replaceAll('$$', '$')) as T;
}
