// Finds the compose implementation on this machine: `docker compose` (v2)
// first, then `docker-compose` (v1, or v2 installed under that name).
// Callers never depend on which one it is.
import { spawnSync } from 'node:child_process';
import { MeshError } from '../../shared/errors.ts';

export interface ComposeCli {
  /** From the version it reports: v1 is 1.x; 2.x under either command is v2. */
  kind: 'v2' | 'v1';
  /** argv prefix: ['docker', 'compose'] or ['docker-compose']. */
  command: string[];
  /** `version --short` without a leading v: "1.29.2", "2.26.1-4" (Debian's), "2.29.7". */
  version: string;
}

// Tried in this order. `docker-compose` may be v2 too (Docker's standalone
// v2 binary, or a distribution's symlink to the plugin): the kind comes from
// the version it reports, since v1 and v2 differ in behaviour, not in name.
const commands = [['docker', 'compose'], ['docker-compose']];

let cached: ComposeCli | null | undefined;
const probed = new Map<string, ComposeCli | null>();

/** Runs `version --short` once per command: the ComposeCli it is, or null. */
function probe(command: string[], refresh: boolean): ComposeCli | null {
  const key = command.join(' ');
  if (probed.has(key) && !refresh) return probed.get(key)!;
  const r = spawnSync(command[0]!, [...command.slice(1), 'version', '--short'], { encoding: 'utf8', timeout: 15_000 });
  const version = r.status === 0 ? r.stdout.trim().replace(/^v/, '') : '';
  const cli = /^\d+\./.test(version) ? { kind: version.startsWith('1.') ? ('v1' as const) : ('v2' as const), command, version } : null;
  probed.set(key, cli);
  return cli;
}

/** A compose of that kind if one runs here, whatever MESH_COMPOSE says (tests that cover both). */
export function composeOfKind(kind: ComposeCli['kind'], { refresh = false } = {}): ComposeCli | undefined {
  for (const command of commands) {
    const cli = probe(command, refresh);
    if (cli?.kind === kind) return cli;
  }
  return undefined;
}

/** The compose CLI, or undefined when neither exists. MESH_COMPOSE=v1|v2|none forces a choice (tests, odd setups). */
export function findCompose({ refresh = false } = {}): ComposeCli | undefined {
  if (cached !== undefined && !refresh) return cached ?? undefined;
  const forced = process.env.MESH_COMPOSE;
  cached = null;
  if (forced !== 'none') {
    for (const command of commands) {
      const cli = probe(command, refresh);
      if (cli && (!forced || forced === cli.kind)) {
        cached = cli;
        break;
      }
    }
  }
  return cached ?? undefined;
}

/**
 * The compose that ran a command line recorded earlier (`up` keeps it in
 * .mesh/up.json), so `down` removes a project with the compose that made it;
 * findCompose()'s when MESH_COMPOSE is set or that one no longer runs.
 */
export function composeFor(recorded: string[] | undefined): ComposeCli {
  const command = commands.find((c) => recorded && c.join(' ') === recorded.join(' '));
  return (!process.env.MESH_COMPOSE && command && probe(command, false)) || requireCompose();
}

/** Like findCompose(), but a missing compose is an error that says what to install. */
export function requireCompose(): ComposeCli {
  const cli = findCompose();
  if (!cli) {
    const forced = process.env.MESH_COMPOSE;
    const which = forced === 'v1' ? '`docker-compose` (v1, MESH_COMPOSE=v1)' : forced === 'v2' ? '`docker compose` (v2, MESH_COMPOSE=v2)' : 'neither `docker compose` (v2) nor `docker-compose` (v1)';
    throw new MeshError('MESH_ERR_COMPOSE_UNAVAILABLE', `${which} was found on PATH`);
  }
  return cli;
}
