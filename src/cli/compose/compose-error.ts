// Maps compose's stderr to a MeshError with a code and the next step. Compose
// v1 and v2 word things differently; match both.
import { MeshError } from '../../shared/errors.ts';

const rules: Array<{ re: RegExp; make: (m: RegExpExecArray, text: string) => MeshError }> = [
  {
    re: /(Cannot connect to the Docker daemon|Is the docker daemon running|Couldn't connect to Docker daemon|error during connect)/i,
    make: () => new MeshError('MESH_ERR_DOCKER_UNAVAILABLE', 'compose cannot reach the Docker engine'),
  },
  {
    re: /(?:port is already allocated|address already in use)/i,
    make: (_m, t) => new MeshError('MESH_ERR_PORT_IN_USE', `a published port is already taken: ${firstLine(t, /allocated|in use/i)}`),
  },
  {
    re: /(?:Pool overlaps with other one on this address space|could not find an available, non-overlapping IPv4 address pool)/i,
    make: (_m, t) =>
      new MeshError(
        'MESH_ERR_COMPOSE_FAILED',
        `Docker could not create a network: ${firstLine(t, /pool|overlap/i)}`,
        'pick another range with `meshctl inject --subnet-range <cidr>` (or MESH_SUBNET_RANGE), or remove unused networks with `docker network prune`',
      ),
  },
  {
    re: /(?:pull access denied|manifest unknown|repository does not exist|failed to resolve reference|No such image|not found: manifest|dial tcp: lookup .* (?:no such host|server misbehaving))/i,
    make: (_m, t) =>
      new MeshError('MESH_ERR_COMPOSE_FAILED', `an image could not be found or pulled: ${firstLine(t, /image|pull|manifest|lookup/i)}`, 'build the mesh image with `meshctl image build`; build or load the other images locally when no registry is reachable'),
  },
  {
    re: /(?:is invalid because|Unsupported config option|Additional property|Invalid top-level property|yaml: |yaml\.(?:parser|scanner|composer|constructor)\.\w+Error|could not find expected|mapping values are not allowed|Invalid interpolation format|does not match any of the regexes|must be a|services\.\S+ |invalid spec: )/i,
    make: (_m, t) => new MeshError('MESH_ERR_COMPOSE_INVALID', `compose rejected the file: ${summary(t)}`),
  },
  {
    re: /(?:Service .* depends on undefined service|undefined (?:volume|network|secret|config)|refers to undefined)/i,
    make: (_m, t) => new MeshError('MESH_ERR_COMPOSE_INVALID', `compose rejected the file: ${summary(t)}`),
  },
];

function firstLine(text: string, re: RegExp): string {
  return (text.split('\n').find((l) => re.test(l)) ?? text.split('\n')[0] ?? '').trim();
}

// Compose's progress lines ("Stopping x ... done", "Container x  Removed"): what it did, not what failed.
const PROGRESS = /^(?:(?:Creating|Starting|Stopping|Removing|Recreating|Pulling|Building)\b.*(?:\.\.\.|done)\s*$|\[\+\] Running|(?:Container|Network|Volume)\s+\S+\s+(?:Creat|Start|Stop|Remov|Recreat|Running|Waiting|Healthy)\w*)/i;
const FAILURE = /error|failed|cannot|can't|unable|denied|invalid|not found|refused/i;

/** The lines that say what went wrong: those naming a failure, else the last ones (compose prints its error last). */
function summary(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !/^WARNING/i.test(l));
  const failing = lines.filter((l) => FAILURE.test(l) && !PROGRESS.test(l));
  const picked = failing.length ? failing.slice(0, 6) : lines.filter((l) => !PROGRESS.test(l)).slice(-6);
  return (picked.length ? picked : lines.slice(-6)).join('; ') || text.trim();
}

export function composeError(argv: string[], code: number | null, text: string): MeshError {
  for (const r of rules) {
    const m = r.re.exec(text);
    if (m) return r.make(m, text);
  }
  if (code === null && /ENOENT/.test(text)) {
    return new MeshError('MESH_ERR_COMPOSE_UNAVAILABLE', `could not run \`${argv.slice(0, 2).join(' ')}\`: ${text}`);
  }
  return new MeshError('MESH_ERR_COMPOSE_FAILED', `\`${argv.join(' ')}\` failed (exit ${code}): ${summary(text)}`);
}
