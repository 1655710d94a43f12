// Makes the model's file paths correct from the output directory (.mesh/).
// Loaders give absolute paths; those inside the project become relative to
// the output (../backend) so the generated file survives moving the project,
// those outside stay absolute.
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { isObj, type ComposeModel, type Obj } from './compose-model.ts';

const isUrl = (p: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(p) || p.startsWith('git@');

function rel(value: unknown, projectDir: string, outDir: string): unknown {
  if (typeof value !== 'string' || value === '' || value.startsWith('~') || isUrl(value)) return value;
  // A path compose left relative (v1 prints an empty bind source as ".") is relative to the project.
  const p = isAbsolute(value) ? value : resolve(projectDir, value);
  const fromProject = relative(projectDir, p);
  if (fromProject.startsWith('..') || isAbsolute(fromProject)) return p;
  const r = relative(outDir, p).split(sep).join('/');
  // Compose treats a short volume source as a path only if it starts with . or /.
  return r === '' ? '.' : r.startsWith('.') ? r : `./${r}`;
}

type PathMap = (p: unknown) => unknown;

function mapVolume(v: unknown, f: PathMap): unknown {
  if (typeof v === 'string') {
    const i = v.indexOf(':');
    // Short syntax: only a source starting with . or / is a path; anything else names a volume.
    if (i > 0 && /^[./]/.test(v)) return `${f(v.slice(0, i))}${v.slice(i)}`;
    return v;
  }
  if (isObj(v) && v.type === 'bind') return { ...v, source: f(v.source) };
  return v;
}

/** Applies f to every file path of the model: build contexts, bind sources, env files, secret and config files. */
function mapPaths(model: ComposeModel, f: PathMap): ComposeModel {
  const services: Record<string, Obj> = {};
  for (const [name, svc] of Object.entries(isObj(model.services) ? model.services : {})) {
    const s = { ...svc };
    if (typeof s.build === 'string') s.build = f(s.build);
    else if (isObj(s.build)) s.build = { ...s.build, context: f(s.build.context) };
    if (Array.isArray(s.volumes)) s.volumes = s.volumes.map((v) => mapVolume(v, f));
    if (Array.isArray(s.env_file)) s.env_file = s.env_file.map((e) => (isObj(e) ? { ...e, path: f(e.path) } : f(e)));
    services[name] = s;
  }
  const out: ComposeModel = { ...model, services };
  for (const key of ['secrets', 'configs'] as const) {
    const section = model[key];
    if (!isObj(section)) continue;
    out[key] = Object.fromEntries(Object.entries(section).map(([n, d]) => [n, isObj(d) && typeof d.file === 'string' ? { ...d, file: f(d.file) } : d]));
  }
  return out;
}

/** Every path absolute, resolved from the project directory (compose's rule). */
export function absolutePaths(model: ComposeModel, projectDir: string): ComposeModel {
  return mapPaths(model, (p) => (typeof p !== 'string' || p === '' || p.startsWith('~') || isUrl(p) || isAbsolute(p) ? p : resolve(projectDir, p)));
}

export function relocatePaths(model: ComposeModel, projectDir: string, outDir: string): ComposeModel {
  return mapPaths(model, (p) => rel(p, projectDir, outDir));
}
