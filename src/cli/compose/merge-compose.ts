// Merges compose files (-f a -f b) and `extends` the way compose does: maps
// merge key by key, some lists append, volumes merge by target, secrets and
// configs by source, command/entrypoint/healthcheck.test are replaced.
import { clone, isObj, type ComposeModel, type Obj } from './compose-model.ts';

const appendUnique = new Set(['ports', 'expose', 'dns', 'dns_search', 'dns_opt', 'cap_add', 'cap_drop', 'external_links', 'links', 'tmpfs', 'volumes_from', 'profiles', 'env_file', 'security_opt', 'group_add', 'devices']);
const replace = new Set(['command', 'entrypoint']);

function volumeTarget(v: unknown): string {
  if (isObj(v)) return String(v.target ?? '');
  const parts = String(v).split(':');
  return parts.length === 1 ? parts[0]! : parts[1]!;
}

function refSource(v: unknown): string {
  return isObj(v) ? String(v.source ?? '') : String(v);
}

function mergeBy(a: unknown[], b: unknown[], key: (v: unknown) => string): unknown[] {
  const out = new Map<string, unknown>();
  for (const v of [...a, ...b]) out.set(key(v), v);
  return [...out.values()];
}

function mergeValue(key: string, a: unknown, b: unknown): unknown {
  if (b === undefined) return clone(a);
  if (a === undefined || replace.has(key)) return clone(b);
  if (Array.isArray(a) && Array.isArray(b)) {
    if (key === 'volumes') return mergeBy(a, b, volumeTarget);
    if (key === 'secrets' || key === 'configs') return mergeBy(a, b, refSource);
    if (appendUnique.has(key)) return mergeBy(a, b, (v) => JSON.stringify(v));
    return clone(b);
  }
  if (isObj(a) && isObj(b)) {
    if (key === 'healthcheck' && 'test' in b) return { ...clone(a), ...clone(b) };
    const out: Obj = clone(a);
    for (const [k, v] of Object.entries(b)) out[k] = mergeValue(k, out[k], v);
    return out;
  }
  return clone(b);
}

export function mergeService(base: Obj, over: Obj): Obj {
  const out: Obj = clone(base);
  for (const [k, v] of Object.entries(over)) out[k] = mergeValue(k, out[k], v);
  // "build: ./x" in one file and "image:" in the other both stay, as in compose.
  return out;
}

export function mergeModels(models: ComposeModel[]): ComposeModel {
  const out: ComposeModel = { services: {} };
  for (const m of models) {
    for (const [k, v] of Object.entries(m)) {
      if (k === 'services') continue;
      out[k] = isObj(v) && isObj(out[k]) ? mergeValue(k, out[k], v) : clone(v);
    }
    for (const [name, svc] of Object.entries(m.services)) {
      out.services[name] = out.services[name] ? mergeService(out.services[name]!, svc) : clone(svc);
    }
  }
  return out;
}
