// Finds the compose implementation on this machine: v2 (`docker compose`)
// first, then v1 (`docker-compose`). Callers never depend on which one it is.
import { spawnSync } from 'node:child_process';
import { MeshError } from '../../shared/errors.ts';

export interface ComposeCli {
  kind: 'v2' | 'v1';
  /** argv prefix: ['docker', 'compose'] or ['docker-compose']. */
  command: string[];
  version: string;
}

const candidates: Array<{ kind: ComposeCli['kind']; command: string[] }> = [
  { kind: 'v2', command: ['docker', 'compose'] },
  { kind: 'v1', command: ['docker-compose'] },
];

let cached: ComposeCli | null | undefined;

/** The compose CLI, or undefined when neither exists. MESH_COMPOSE=v1|v2|none forces a choice (tests, odd setups). */
export function findCompose({ refresh = false } = {}): ComposeCli | undefined {
  if (cached !== undefined && !refresh) return cached ?? undefined;
  const forced = process.env.MESH_COMPOSE;
  cached = null;
  if (forced !== 'none') {
    for (const c of candidates) {
      if (forced && forced !== c.kind) continue;
      const r = spawnSync(c.command[0]!, [...c.command.slice(1), 'version', '--short'], { encoding: 'utf8', timeout: 15_000 });
      if (r.status === 0 && r.stdout.trim()) {
        cached = { ...c, version: r.stdout.trim().replace(/^v/, '') };
        break;
      }
    }
  }
  return cached ?? undefined;
}

/** Like findCompose(), but a missing compose is an error that says what to install. */
export function requireCompose(): ComposeCli {
  const cli = findCompose();
  if (!cli) {
    throw new MeshError('MESH_ERR_COMPOSE_UNAVAILABLE', 'neither `docker compose` (v2) nor `docker-compose` (v1) was found on PATH');
  }
  return cli;
}
