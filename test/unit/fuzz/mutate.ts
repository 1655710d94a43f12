// fast-check arbitraries for "a valid document with one part broken": pick a
// path inside a known-good value and put something arbitrary there, which
// reaches deep validation code that fully random input never gets past.
import fc from 'fast-check';

type Json = unknown;

/** Every path (keys and indexes) inside a JSON-like value, the root included. */
export function pathsOf(v: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...pathsOf(x, [...prefix, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...pathsOf(x, [...prefix, k]));
  return out;
}

/** A copy of `v` with the value at `path` replaced (or removed when `value` is the REMOVE marker). */
export const REMOVE = Symbol('remove');
export function setAt(v: Json, path: (string | number)[], value: unknown): Json {
  if (path.length === 0) return value === REMOVE ? undefined : value;
  const copy: any = Array.isArray(v) ? [...v] : { ...(v as object) };
  const [head, ...rest] = path;
  if (rest.length === 0) {
    if (value === REMOVE) Array.isArray(copy) ? copy.splice(head as number, 1) : delete copy[head!];
    else copy[head!] = value;
  } else copy[head!] = setAt(copy[head!], rest, value);
  return copy;
}

/** Odd values a parser should refuse politely: wrong types, huge or negative numbers, odd strings, deep nesting. */
export const oddValue = fc.oneof(
  fc.constant(REMOVE),
  fc.constantFrom(null, undefined, NaN, Infinity, -1, 0, 2 ** 53, 1e308, -0, '', ' ', '\u0000', '../../etc', '*', 'a'.repeat(5000), true, [], {}, [[[]]]),
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 3 }),
  fc.object({ maxDepth: 2 }),
);

/** `good` with 1 to 3 of its parts replaced by odd values. */
export function mutated(good: Json): fc.Arbitrary<Json> {
  const paths = pathsOf(good);
  return fc.array(fc.tuple(fc.constantFrom(...paths), oddValue), { minLength: 1, maxLength: 3 }).map((edits) => edits.reduce((doc, [p, val]) => setAt(doc, p, val), good));
}
