// Reads the user's compose files into one normalised model. Prefers compose's
// own `config` (merging -f files, extends, anchors, .env, interpolation exactly
// as compose does); falls back to yaml-loader.ts when no compose is installed.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { MeshError } from '../../shared/errors.ts';
import { findCompose, type ComposeCli } from './compose-cli.ts';
import { isObj, type ComposeModel, type Obj } from './compose-model.ts';
import { unescapeDollars } from './dollars.ts';
import { normaliseService } from './normalise-service.ts';
import { absolutePaths } from './relocate-paths.ts';
import { runCompose } from './run-compose.ts';
import { loadWithYaml } from './yaml-loader.ts';

export type LoaderChoice = 'auto' | 'compose' | 'yaml';

export interface LoadOptions {
  loader?: LoaderChoice;
  project?: string;
  envFile?: string;
  /** This compose instead of findCompose()'s (tests that check a file with both v1 and v2). */
  cli?: ComposeCli;
}

export interface LoadedCompose {
  model: ComposeModel;
  /** What normalised the model: "docker compose config", "docker-compose config" or "yaml (no compose found)". */
  loader: string;
  /** Directory of the first file: compose's project directory. */
  projectDir: string;
  project: string;
}

const COMPOSE_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

/** The compose file of the working folder, by compose's own names, when none is given with -f. */
export function findComposeFile(): string {
  const found = COMPOSE_NAMES.find((f) => existsSync(f));
  if (!found) throw new MeshError('MESH_ERR_FILE_NOT_FOUND', 'no compose file given and none found here (compose.yaml, docker-compose.yml, ...)', 'run meshctl in the project folder, or pass -f <compose file>');
  return found;
}

/** Compose's project name rule: lowercase, only [a-z0-9_-], starting with a letter or digit (v2 refuses others). */
export function projectNameFrom(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[_-]+/, '');
}

const dollarStyle = new Map<string, 'escaped' | 'literal'>();

/**
 * Does this compose's `config` print a literal `$` as `$$` (v1) or as `$`
 * (some v2 releases)? Asked once per binary, on a throwaway file.
 */
export async function probeDollarStyle(cli: ComposeCli): Promise<'escaped' | 'literal'> {
  const key = `${cli.kind}@${cli.version}`;
  const known = dollarStyle.get(key);
  if (known) return known;
  const dir = mkdtempSync(join(tmpdir(), 'mesh-probe-'));
  try {
    writeFileSync(join(dir, 'compose.yaml'), 'services:\n  probe:\n    image: probe\n    environment:\n      P: "a$$b"\n');
    const { stdout } = await runCompose(cli, { files: [join(dir, 'compose.yaml')], project: 'meshprobe', cwd: dir }, ['config']);
    const p = (parse(stdout) as { services: { probe: { environment: Record<string, string> } } }).services.probe.environment.P;
    const style = p === 'a$$b' ? 'escaped' : 'literal';
    dollarStyle.set(key, style);
    return style;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function loadWithCompose(cli: ComposeCli, files: string[], projectDir: string, opts: LoadOptions): Promise<ComposeModel> {
  const args = opts.envFile ? ['--env-file', resolve(opts.envFile), 'config'] : ['config'];
  // -p matters to v2, which writes network and volume `name:`s from it.
  // v2's `config` drops services of profiles not enabled; '*' enables all (compose-go #175).
  // v1's `config` prints every service whatever the profiles.
  const profiles = cli.kind === 'v2' ? ['*'] : undefined;
  const run = { files, cwd: projectDir, project: opts.project ? projectNameFrom(opts.project) : undefined, profiles };
  // The `$` probe runs alongside the real `config` (each is a compose start, ~0.3 s with v1).
  const style = probeDollarStyle(cli);
  style.catch(() => {});
  const { stdout } = await runCompose(cli, run, args).catch((err: unknown) => {
    if (err instanceof MeshError && err.code === 'MESH_ERR_COMPOSE_INVALID') {
      throw new MeshError(err.code, err.message, `${err.hint}; if only this compose (${cli.kind} ${cli.version}) refuses it, e.g. v1 and a top-level \`name:\`, try \`--loader yaml\``);
    }
    throw err;
  });
  let doc = parse(stdout, { merge: true, maxAliasCount: -1 }) as unknown;
  if (!isObj(doc)) throw new MeshError('MESH_ERR_COMPOSE_INVALID', 'compose config printed no model');
  if ((await style) === 'escaped') doc = unescapeDollars(doc);
  // compose makes most paths absolute but not all (v1 prints an empty bind source as ".").
  return absolutePaths(doc as ComposeModel, projectDir);
}

export async function loadCompose(files: string[], opts: LoadOptions = {}): Promise<LoadedCompose> {
  if (files.length === 0) throw new MeshError('MESH_ERR_USAGE', 'no compose file given');
  const abs = files.map((f) => resolve(f));
  for (const f of abs) if (!existsSync(f)) throw new MeshError('MESH_ERR_FILE_NOT_FOUND', `compose file ${f} does not exist`);
  const projectDir = dirname(abs[0]!);
  const choice = opts.loader ?? 'auto';
  const cli = choice === 'yaml' ? undefined : (opts.cli ?? findCompose());
  if (choice === 'compose' && !cli) {
    throw new MeshError('MESH_ERR_COMPOSE_UNAVAILABLE', '--loader compose was asked for, but no compose binary was found');
  }
  let model: ComposeModel;
  let loader: string;
  if (cli) {
    model = await loadWithCompose(cli, abs, projectDir, opts);
    loader = `${cli.command.join(' ')} config (${cli.kind} ${cli.version})`;
  } else {
    model = loadWithYaml(abs, { envFile: opts.envFile });
    loader = choice === 'yaml' ? 'yaml (--loader yaml)' : 'yaml (no compose binary found)';
  }
  if (!isObj(model.services) || Object.keys(model.services).length === 0) {
    throw new MeshError('MESH_ERR_COMPOSE_INVALID', `${basename(abs[0]!)} defines no services`);
  }
  const services: Record<string, Obj> = {};
  for (const [name, svc] of Object.entries(model.services)) services[name] = normaliseService(isObj(svc) ? svc : {});
  const project = projectNameFrom(opts.project ?? (typeof model.name === 'string' ? model.name : basename(projectDir)));
  // v1 rejects top-level `name:`; the runner passes the project with -p instead.
  // `version:` (which v1's `config` prints) only makes v2 warn that it is obsolete; neither needs it.
  const { name: _name, version: _version, ...rest } = model;
  if (!project) throw new MeshError('MESH_ERR_USAGE', `cannot derive a project name from "${projectDir}"`, 'pass one with -p <project>');
  return { model: { ...rest, services } as ComposeModel, loader, projectDir, project };
}
