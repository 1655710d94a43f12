// `meshctl down`: compose down on the generated file (containers, the
// networks it added, the controller); -v also removes volumes. The CA in
// .mesh/ca stays unless --ca, so identities survive a restart.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { compose } from '../compose/run-compose.ts';
import { composeFor } from '../compose/compose-cli.ts';
import { projectContainers, projectNetworks, projectVolumes } from './docker-facts.ts';
import { requireUpState, stateDirOf } from './mesh-state.ts';
import { MeshError } from '../../shared/errors.ts';

export interface DownOptions {
  dir?: string;
  volumes?: boolean;
  ca?: boolean;
}

/**
 * Containers the controller made that compose will not remove, so `down`
 * removes them first (they would also keep their networks alive):
 * - a port-learning helper left behind if the controller died mid-probe: it
 *   has no service label, so compose does not count it even as an orphan;
 * - canary clones (`canary start --image`): they carry the service's compose
 *   labels but no config hash (with one, `compose up` would scale them away
 *   as extra replicas), and compose v2 ignores containers without one, in
 *   `down` too (v1 removes them).
 */
export function removeControllerContainers(project: string, say: (line: string) => void = () => {}): string[] {
  const ours = projectContainers(project, true).filter((c) => c.role === 'port-probe' || c.canary);
  if (ours.length) {
    spawnSync('docker', ['rm', '-f', ...ours.map((c) => c.id)], { stdio: 'ignore' });
    const canaries = ours.filter((c) => c.canary);
    if (canaries.length) say(`removed ${canaries.length} canary container${canaries.length > 1 ? 's' : ''} (${canaries.map((c) => c.service).join(', ')})`);
  }
  return ours.map((c) => c.id);
}

export async function runDown(opts: DownOptions, say: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<{ project: string; left: string[] }> {
  const dir = opts.dir ?? process.cwd();
  const state = requireUpState(dir);
  const cli = composeFor(state.compose);
  removeControllerContainers(state.project, say);
  const stuck = new Set<string>();
  say(`compose: down project ${state.project}${opts.volumes ? ' (with volumes)' : ''} (${cli.command.join(' ')})`);
  try {
    await compose.down(cli, { files: [state.output], project: state.project }, [...(opts.volumes ? ['-v'] : []), '-t', '10']);
  } catch (err) {
    if (!staleEndpointFailure(err, state.project)) throw err;
    // Docker 20.10 sometimes keeps counting an endpoint of a removed container (moby/moby#42119): the network
    // cannot be removed until dockerd restarts. Compose v2 skips such a network with a warning; v1 stops
    // there, so the rest of its networks are removed here, and the stuck one named.
    for (const n of projectNetworks(state.project)) {
      const r = spawnSync('docker', ['network', 'rm', n], { encoding: 'utf8' });
      if (r.status === 0) continue;
      stuck.add(n);
      say(`network ${n} is left: Docker says it has active endpoints, but no container is attached (a Docker engine bug, moby/moby#42119; compose v2 skips it too). Restart dockerd, then \`docker network rm ${n}\``);
    }
    // v1 removes volumes after networks: it never got there.
    if (opts.volumes) for (const v of projectVolumes(state.project)) spawnSync('docker', ['volume', 'rm', v], { stdio: 'ignore' });
  }
  // Networks meshctl added under an earlier version of the generated file are not in this one: remove them by label.
  for (const n of projectNetworks(state.project, 'mesh.role')) {
    if (spawnSync('docker', ['network', 'rm', n], { encoding: 'utf8' }).status === 0) say(`removed network ${n} (from an earlier meshctl up)`);
  }
  if (opts.ca) {
    rmSync(join(stateDirOf(dir), 'ca'), { recursive: true, force: true });
    say('removed the mesh CA (.mesh/ca); the next up creates a new root');
  } else say('kept the mesh CA (.mesh/ca); `meshctl down --ca` removes it');
  const containers = projectContainers(state.project, true).map((c) => `container ${c.id} (${c.service})`);
  const networks = projectNetworks(state.project);
  const left = [...containers, ...networks.map((n) => `network ${n}`)];
  const unexplained = [...containers, ...networks.filter((n) => !stuck.has(n)).map((n) => `network ${n}`)];
  if (unexplained.length) say(`still there (not created by this file?): ${unexplained.join(', ')}`);
  else if (left.length) say(`project ${state.project}: no container left; ${[...stuck].join(', ')} waits for a dockerd restart`);
  else say(`project ${state.project}: no container or network left`);
  return { project: state.project, left };
}

/** Compose failed only on a network Docker still counts an endpoint in, with no container of the project left. */
function staleEndpointFailure(err: unknown, project: string): boolean {
  return err instanceof MeshError && /has active endpoints/.test(err.message) && projectContainers(project, true).length === 0;
}
