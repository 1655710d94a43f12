// The compose model as meshctl handles it: plain JSON from YAML, loosely typed
// on purpose (compose has hundreds of keys; we touch a few and keep the rest).
export type Obj = Record<string, unknown>;

export interface ComposeModel extends Obj {
  services: Record<string, Obj>;
  networks?: Record<string, Obj | null>;
  volumes?: Record<string, Obj | null>;
  secrets?: Record<string, Obj | null>;
  configs?: Record<string, Obj | null>;
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep copy of a JSON-like value (the model never holds anything else). */
export function clone<T>(v: T): T {
  return structuredClone(v);
}
