// Turns the short forms of a service's keys into one shape (maps, not lists),
// so the merger and the rewriter handle one form. Both loaders call it.
import { isObj, type Obj } from './compose-model.ts';

/** ["A=1", "B"] → { A: "1", B: null }; maps pass through. */
export function listToMap(v: unknown, sep = '='): Record<string, unknown> {
  if (isObj(v)) return { ...v };
  const out: Record<string, unknown> = {};
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = String(item);
      const i = s.indexOf(sep);
      if (i === -1) out[s] = null;
      else out[s.slice(0, i)] = s.slice(i + 1);
    }
  }
  return out;
}

/**
 * v2's `config` spells out `required: true` on every dependency; it is the
 * default, v1 does not know the key, so it goes (`required: false` stays).
 */
function dropDefaultRequired(deps: Obj): Obj {
  const out: Obj = {};
  for (const [name, dep] of Object.entries(deps)) {
    if (isObj(dep) && dep.required === true) {
      const { required: _required, ...rest } = dep;
      out[name] = rest;
    } else out[name] = dep;
  }
  return out;
}

/**
 * v2's `config` prints a short bind (`./data:/data:ro`) in long form with
 * `bind: {create_host_path: true}`, which v1 rejects ("unsupported option").
 * Folded back to the short form, it means the same to both (a short bind
 * creates a missing host path; a long one without that key would not).
 */
export function foldBind(v: unknown): unknown {
  if (!isObj(v) || v.type !== 'bind' || typeof v.source !== 'string' || typeof v.target !== 'string') return v;
  const bind = isObj(v.bind) ? v.bind : {};
  if (bind.create_host_path !== true) return v;
  if (Object.keys(v).some((k) => !['type', 'source', 'target', 'read_only', 'bind'].includes(k))) return v;
  if (Object.keys(bind).some((k) => !['create_host_path', 'selinux', 'propagation'].includes(k))) return v;
  if (v.source.includes(':') || v.target.includes(':')) return v;
  const mode = [v.read_only === true ? 'ro' : '', bind.selinux, bind.propagation].filter((m) => typeof m === 'string' && m !== '');
  return `${v.source}:${v.target}${mode.length ? `:${mode.join(',')}` : ''}`;
}

export function normaliseService(svc: Obj): Obj {
  const out: Obj = { ...svc };
  if ('environment' in out) out.environment = listToMap(out.environment);
  if ('labels' in out) out.labels = listToMap(out.labels);
  if ('depends_on' in out) {
    const d = out.depends_on;
    out.depends_on = Array.isArray(d) ? Object.fromEntries(d.map((n) => [String(n), { condition: 'service_started' }])) : dropDefaultRequired(d as Obj);
  }
  if ('networks' in out) {
    const n = out.networks;
    out.networks = Array.isArray(n) ? Object.fromEntries(n.map((x) => [String(x), null])) : { ...(n as Obj) };
  }
  if (Array.isArray(out.volumes)) out.volumes = out.volumes.map(foldBind);
  if (typeof out.env_file === 'string') out.env_file = [out.env_file];
  if (typeof out.profiles === 'string') out.profiles = [out.profiles];
  return out;
}

/** Networks a service is attached to; compose puts a service with none on `default`. */
export function serviceNetworks(svc: Obj): Record<string, Obj | null> {
  const n = svc.networks;
  if (isObj(n) && Object.keys(n).length) return n as Record<string, Obj | null>;
  if (Array.isArray(n) && n.length) return Object.fromEntries(n.map((x) => [String(x), null]));
  return { default: null };
}

/** How many replicas the file asks for (scale or deploy.replicas), default 1. */
export function replicasOf(svc: Obj): number {
  const deploy = isObj(svc.deploy) ? svc.deploy : {};
  const r = Number(svc.scale ?? deploy.replicas ?? 1);
  return Number.isFinite(r) ? r : 1;
}
