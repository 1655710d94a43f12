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

export function normaliseService(svc: Obj): Obj {
  const out: Obj = { ...svc };
  if ('environment' in out) out.environment = listToMap(out.environment);
  if ('labels' in out) out.labels = listToMap(out.labels);
  if ('depends_on' in out) {
    const d = out.depends_on;
    out.depends_on = Array.isArray(d) ? Object.fromEntries(d.map((n) => [String(n), { condition: 'service_started' }])) : { ...(d as Obj) };
  }
  if ('networks' in out) {
    const n = out.networks;
    out.networks = Array.isArray(n) ? Object.fromEntries(n.map((x) => [String(x), null])) : { ...(n as Obj) };
  }
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
