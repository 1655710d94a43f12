// Loads compose files without compose: YAML (anchors and merge keys), .env
// and interpolation, `extends`, several -f files merged, relative paths made
// absolute. The fallback for machines with no compose binary; compose's own
// `config` is preferred (load-compose.ts). Limits are listed in README.md.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { MeshError } from '../../shared/errors.ts';
import { isObj, type ComposeModel, type Obj } from './compose-model.ts';
import { interpolate, parseDotenv } from './interpolate.ts';
import { mergeModels, mergeService } from './merge-compose.ts';
import { normaliseService } from './normalise-service.ts';

type Env = Record<string, string | undefined>;

export function loadEnv(projectDir: string, envFile?: string): Env {
  const file = envFile ? resolve(envFile) : resolve(projectDir, '.env');
  const dotenv = existsSync(file) ? parseDotenv(readFileSync(file, 'utf8')) : {};
  // The shell's environment wins over .env, as in compose.
  return { ...dotenv, ...process.env };
}

function readYaml(file: string): Obj {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new MeshError('MESH_ERR_FILE_NOT_FOUND', `cannot read compose file ${file}`);
  }
  let doc: unknown;
  try {
    doc = parse(text, { merge: true, maxAliasCount: -1 });
  } catch (err) {
    throw new MeshError('MESH_ERR_COMPOSE_INVALID', `${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc == null) return {};
  if (!isObj(doc)) throw new MeshError('MESH_ERR_COMPOSE_INVALID', `${file}: the top level must be a mapping`);
  return doc;
}

const isLocalPath = (p: string) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(p) && !p.startsWith('git@');

function abs(p: unknown, base: string): unknown {
  if (typeof p !== 'string' || p === '' || !isLocalPath(p)) return p;
  if (p.startsWith('~')) return p;
  return isAbsolute(p) ? p : resolve(base, p);
}

/** A short volume spec "src:dst[:mode]" whose source is a path (., /, ~), not a named volume. */
function absVolume(v: unknown, base: string): unknown {
  if (typeof v === 'string') {
    const parts = v.split(':');
    // An empty source (an unset variable) is the project directory to v1; v2 rejects it.
    if (parts.length >= 2 && parts[0] === '') parts[0] = '.';
    if (parts.length >= 2 && /^[./~]/.test(parts[0]!)) parts[0] = abs(parts[0], base) as string;
    return parts.join(':');
  }
  if (isObj(v) && v.type === 'bind' && typeof v.source === 'string') return { ...v, source: abs(v.source, base) };
  return v;
}

function absPaths(svc: Obj, base: string): Obj {
  const out = { ...svc };
  if (typeof out.build === 'string') out.build = { context: abs(out.build, base) };
  else if (isObj(out.build)) out.build = { ...out.build, context: abs(out.build.context ?? '.', base) };
  if (Array.isArray(out.volumes)) out.volumes = out.volumes.map((v) => absVolume(v, base));
  if (Array.isArray(out.env_file)) out.env_file = out.env_file.map((f) => (isObj(f) ? { ...f, path: abs(f.path, base) } : abs(f, base)));
  return out;
}

function absTop(doc: Obj, base: string): void {
  for (const key of ['secrets', 'configs'] as const) {
    const section = doc[key];
    if (!isObj(section)) continue;
    for (const [name, def] of Object.entries(section)) {
      if (isObj(def) && typeof def.file === 'string') section[name] = { ...def, file: abs(def.file, base) };
    }
  }
}

/** Parses, interpolates and resolves one file; services are normalised, extends resolved. */
function loadFile(file: string, env: Env, base: string, seen: string[] = []): ComposeModel {
  const raw = readYaml(file);
  const doc = interpolate(raw, env) as Obj;
  for (const k of Object.keys(doc)) if (k.startsWith('x-')) delete doc[k];
  const services: Record<string, Obj> = {};
  for (const [name, svc] of Object.entries(isObj(doc.services) ? doc.services : {})) {
    services[name] = absPaths(normaliseService(isObj(svc) ? svc : {}), base);
  }
  absTop(doc, base);
  const model = { ...doc, services } as ComposeModel;
  for (const name of Object.keys(services)) services[name] = resolveExtends(model, name, file, env, base, [...seen, `${file}#${name}`]);
  return model;
}

function resolveExtends(model: ComposeModel, name: string, file: string, env: Env, base: string, seen: string[]): Obj {
  const svc = model.services[name]!;
  if (!('extends' in svc)) return svc;
  const ext = typeof svc.extends === 'string' ? { service: svc.extends } : (svc.extends as Obj);
  const target = String(ext.service ?? '');
  let parent: Obj | undefined;
  if (typeof ext.file === 'string') {
    const other = resolve(dirname(file), ext.file);
    const key = `${other}#${target}`;
    if (seen.includes(key)) throw new MeshError('MESH_ERR_COMPOSE_INVALID', `circular extends: ${[...seen, key].join(' -> ')}`);
    // Paths in the extended file are relative to that file.
    parent = loadFile(other, env, dirname(other), seen).services[target];
  } else {
    const key = `${file}#${target}`;
    if (seen.includes(key)) throw new MeshError('MESH_ERR_COMPOSE_INVALID', `circular extends: ${[...seen, key].join(' -> ')}`);
    if (model.services[target]) parent = resolveExtends(model, target, file, env, base, [...seen, key]);
  }
  if (!parent) throw new MeshError('MESH_ERR_COMPOSE_INVALID', `service "${name}" extends "${target}", which does not exist`);
  const { extends: _drop, ...own } = svc;
  // depends_on, links, volumes_from are not inherited through extends (compose rule).
  const inherited = { ...parent };
  for (const k of ['depends_on', 'links', 'volumes_from', 'extends']) delete inherited[k];
  return mergeService(inherited, own);
}

export function loadWithYaml(files: string[], opts: { envFile?: string } = {}): ComposeModel {
  // Every path in every -f file is relative to the first file's directory.
  const base = dirname(resolve(files[0]!));
  const env = loadEnv(base, opts.envFile);
  return mergeModels(files.map((f) => loadFile(resolve(f), env, base)));
}
