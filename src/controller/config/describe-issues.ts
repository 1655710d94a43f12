// Turns zod issues into lines a user can act on:
// `services.payments.retries.attempts: expected an integer from 0 to 10, got "three"`.
// What is "expected" is read from the schema at the issue's path, so the
// message states the bounds even when the value had the wrong type.
import type { z } from 'zod';
import { formatPath } from '../../shared/snapshot.ts';

type AnySchema = z.ZodType & { _zod: { def: Record<string, any> } };

export function describeIssues(schema: z.ZodType, error: z.ZodError, input: unknown): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'invalid_union' && 'errors' in issue && Array.isArray(issue.errors) && issue.errors.length) {
      // A union of object shapes: report the branch that got furthest rather than "invalid input".
      const deepest = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0]!;
      if (depth(deepest) > 0) {
        const sub = { issues: deepest.map((i: z.core.$ZodIssue) => ({ ...i, path: [...issue.path, ...i.path] })) } as z.ZodError;
        return describeIssues(schema, sub, input);
      }
    }
    return [describeIssue(schema, issue, input)];
  });
}

function depth(issues: z.core.$ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

function describeIssue(schema: z.ZodType, issue: z.core.$ZodIssue, input: unknown): string {
  const path = formatPath(issue.path);
  const value = valueAt(input, issue.path);
  const got = value.found ? `got ${show(value.value)}` : 'got nothing';
  if (issue.code === 'unrecognized_keys') {
    const at = schemaAt(schema, issue.path);
    const known = at ? objectKeys(at) : [];
    return `${path}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}` +
      (known.length ? ` (expected one of: ${known.join(', ')})` : '');
  }
  if (issue.code === 'invalid_type' || issue.code === 'too_small' || issue.code === 'too_big' || issue.code === 'invalid_value' || issue.code === 'invalid_union') {
    const at = schemaAt(schema, issue.path);
    const expected = at ? expect(at) : undefined;
    if (expected) return `${path}: expected ${expected}, ${got}`;
  }
  return `${path}: ${issue.message}${value.found ? `, ${got}` : ''}`;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function valueAt(input: unknown, path: PropertyKey[]): { found: boolean; value?: unknown } {
  let cur: any = input;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || !(p in cur)) return { found: false };
    cur = cur[p as any];
  }
  return { found: cur !== undefined, value: cur };
}

function unwrap(s: AnySchema): AnySchema {
  for (;;) {
    const d = s._zod.def;
    if (d.type === 'optional' || d.type === 'default' || d.type === 'nullable' || d.type === 'prefault' || d.type === 'readonly' || d.type === 'catch') s = d.innerType;
    else if (d.type === 'pipe') s = d.in;
    else return s;
  }
}

/** The schema that validates the value at `path`, if it can be found. */
export function schemaAt(root: z.ZodType, path: PropertyKey[]): AnySchema | undefined {
  let s = unwrap(root as AnySchema);
  for (const p of path) {
    const d = s._zod.def;
    if (d.type === 'object') s = d.shape[p as string];
    else if (d.type === 'record') s = d.valueType;
    else if (d.type === 'array') s = d.element;
    else if (d.type === 'union') {
      const next = d.options.map((o: AnySchema) => schemaAt(o, [p])).find(Boolean);
      s = next;
    } else return undefined;
    if (!s) return undefined;
    s = unwrap(s);
  }
  return s;
}

function objectKeys(s: AnySchema): string[] {
  const u = unwrap(s);
  if (u._zod.def.type === 'object') return Object.keys(u._zod.def.shape);
  if (u._zod.def.type === 'union') return [...new Set(u._zod.def.options.flatMap((o: AnySchema) => objectKeys(o)))] as string[];
  return [];
}

function expect(s: AnySchema): string | undefined {
  const u = unwrap(s);
  const d = u._zod.def;
  switch (d.type) {
    case 'number': {
      // Public accessors; `_zod.bag` is filled lazily and may still be empty.
      const n = u as unknown as { minValue: number | null; maxValue: number | null; isInt: boolean };
      const what = n.isInt ? 'an integer' : 'a number';
      const lo = n.minValue !== null && n.minValue > Number.MIN_SAFE_INTEGER ? n.minValue : undefined;
      const hi = n.maxValue !== null && n.maxValue < Number.MAX_SAFE_INTEGER ? n.maxValue : undefined;
      const positive = (d.checks ?? []).some((c: any) => c._zod.def.check === 'greater_than' && c._zod.def.value === 0 && !c._zod.def.inclusive);
      if (positive) return `${what} > 0`;
      if (lo !== undefined && hi !== undefined) return `${what} from ${lo} to ${hi}`;
      if (lo !== undefined) return `${what} ≥ ${lo}`;
      if (hi !== undefined) return `${what} ≤ ${hi}`;
      return what;
    }
    case 'string':
      return minLength(d) ? 'a non-empty string' : 'a string';
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${Object.values(d.entries).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'literal':
      return d.values.map((v: unknown) => JSON.stringify(v)).join(' or ');
    case 'array':
      {
        const min = minLength(d);
        return min ? `a list with at least ${min} item${min > 1 ? 's' : ''}` : 'a list';
      }
    case 'object':
      return `an object with fields ${Object.keys(d.shape).join(', ')}`;
    case 'record':
      return 'an object';
    case 'union': {
      const parts = d.options.map((o: AnySchema) => expect(o)).filter(Boolean);
      return parts.length ? parts.join(', or ') : undefined;
    }
    default:
      return undefined;
  }
}

function minLength(def: Record<string, any>): number {
  const c = (def.checks ?? []).find((c: any) => c._zod.def.check === 'min_length');
  return c ? c._zod.def.minimum : 0;
}
