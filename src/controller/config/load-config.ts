// Finds and validates the mesh configuration: mesh.config.ts (imported with
// Node's own type stripping), or an `x-mesh:` key in the compose file. Never
// throws for a bad config: the result lists every error with file and path.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { MeshConfig } from '../../shared/mesh-config.ts';
import { MeshError } from '../../shared/errors.ts';
import { describeIssues } from './describe-issues.ts';

export type LoadResult =
  | { ok: true; file: string; config: MeshConfig; composeServices?: string[] }
  | { ok: false; file: string; errors: string[] };

export interface LoadOptions {
  /** mesh.config.ts (or .js/.mjs/.json). Default: mesh.config.ts beside the compose file or in cwd. */
  configPath?: string;
  /** Compose file: source of `x-mesh:` and of the service names the config may mention. */
  composePath?: string;
  cwd?: string;
}

const CONFIG_NAMES = ['mesh.config.ts', 'mesh.config.mts', 'mesh.config.js', 'mesh.config.mjs', 'mesh.config.json'];

export async function loadMeshConfig(opts: LoadOptions = {}): Promise<LoadResult> {
  const cwd = opts.cwd ?? process.cwd();
  let compose: { file: string; doc: any } | undefined;
  if (opts.composePath) {
    const file = resolve(cwd, opts.composePath);
    if (!existsSync(file)) return { ok: false, file: opts.composePath, errors: [`${opts.composePath}: file not found`] };
    try {
      compose = { file, doc: parseYaml(readFileSync(file, 'utf8')) ?? {} };
    } catch (err) {
      return { ok: false, file: basename(file), errors: [`${basename(file)}: not valid YAML: ${(err as Error).message.split('\n')[0]}`] };
    }
  }

  let configFile = opts.configPath ? resolve(cwd, opts.configPath) : undefined;
  if (configFile && !existsSync(configFile)) return { ok: false, file: opts.configPath!, errors: [`${opts.configPath}: file not found`] };
  if (!configFile) {
    const dir = compose ? dirname(compose.file) : cwd;
    configFile = CONFIG_NAMES.map((n) => resolve(dir, n)).find((f) => existsSync(f));
  }
  const xMesh = compose?.doc?.['x-mesh'];
  if (configFile && xMesh !== undefined && !opts.configPath) {
    return {
      ok: false,
      file: basename(configFile),
      errors: [`${basename(configFile)} and ${basename(compose!.file)} (x-mesh) both configure the mesh; keep one, or pass --config to choose`],
    };
  }

  let raw: unknown;
  let label: string;
  if (configFile) {
    label = basename(configFile);
    try {
      raw = await importConfig(configFile);
    } catch (err) {
      return { ok: false, file: label, errors: [`${label}: could not be loaded: ${(err as Error).message.split('\n')[0]}`] };
    }
  } else if (compose && xMesh !== undefined) {
    label = `${basename(compose.file)} (x-mesh)`;
    raw = xMesh ?? {};
  } else {
    // No config at all is valid: every service gets the mesh defaults.
    label = '(defaults)';
    raw = {};
  }

  const r = MeshConfig.safeParse(raw);
  if (!r.success) {
    return { ok: false, file: label, errors: describeIssues(MeshConfig, r.error, raw).map((l) => `${label}: ${l}`) };
  }
  const errors: string[] = [];
  let composeServices: string[] | undefined;
  if (compose) {
    composeServices = Object.keys(compose.doc?.services ?? {}).sort();
    for (const name of Object.keys(r.data.services)) {
      if (!composeServices.includes(name)) {
        errors.push(`${label}: services.${name}: no such service in ${basename(compose.file)} (it has: ${composeServices.join(', ') || 'none'})`);
      }
    }
  }
  errors.push(...crossCheck(r.data).map((l) => `${label}: ${l}`));
  if (errors.length) return { ok: false, file: label, errors };
  return { ok: true, file: label, config: r.data, ...(composeServices ? { composeServices } : {}) };
}

/** Rules that span fields, which the schema alone cannot say. */
function crossCheck(config: MeshConfig): string[] {
  const errors: string[] = [];
  for (const [name, svc] of Object.entries(config.services)) {
    const ports = (svc.ports ?? []).map((p) => (typeof p === 'number' ? p : p.port));
    const dup = ports.find((p, i) => ports.indexOf(p) !== i);
    if (dup !== undefined) errors.push(`services.${name}.ports: port ${dup} is listed twice`);
    (svc.routes ?? []).forEach((route, ri) => {
      if (route.to.every((t) => t.weight === 0)) errors.push(`services.${name}.routes[${ri}].to: expected at least one weight > 0, got all 0`);
    });
  }
  return errors;
}

async function importConfig(file: string): Promise<unknown> {
  if (file.endsWith('.json')) return JSON.parse(readFileSync(file, 'utf8'));
  // The query defeats the module cache, so a changed file is read again.
  const mod = await import(`${pathToFileURL(file).href}?v=${Date.now()}`);
  return mod.default ?? mod.config ?? mod;
}

/** For callers that want an exception: a MeshError listing every problem. */
export async function loadMeshConfigOrThrow(opts: LoadOptions = {}): Promise<MeshConfig> {
  const r = await loadMeshConfig(opts);
  if (!r.ok) throw new MeshError('MESH_ERR_CONFIG_INVALID', `invalid mesh configuration:\n  ${r.errors.join('\n  ')}`);
  return r.config;
}
