// Small read-only questions to the Docker engine, by label (never by the
// v1/v2 container-name format): the project's containers, their published ports.
import { spawnSync } from 'node:child_process';
import { MeshError } from '../../shared/errors.ts';

export interface ContainerFact {
  id: string;
  service: string;
  role: string;
  state: string;
  health: string;
  /** "127.0.0.1:8080->8080/tcp, ..." as docker ps prints it. */
  ports: string;
  /** A canary clone the controller made (`mesh.canary=true`), not a container compose created. */
  canary: boolean;
}

function docker(args: string[], timeout = 15_000) {
  const r = spawnSync('docker', args, { encoding: 'utf8', timeout });
  if (r.error) throw new MeshError('MESH_ERR_DOCKER_UNAVAILABLE', `could not run docker: ${r.error.message}`);
  return r;
}

/** The engine's version, or the reason it cannot be reached. */
export function engineVersion(): { ok: true; version: string } | { ok: false; why: string } {
  const r = spawnSync('docker', ['version', '-f', '{{.Server.Version}}'], { encoding: 'utf8', timeout: 15_000 });
  if (r.error) return { ok: false, why: `docker is not installed or not on PATH (${r.error.message})` };
  if (r.status !== 0) return { ok: false, why: (r.stderr || r.stdout).trim().split('\n').pop() ?? 'docker version failed' };
  return { ok: true, version: r.stdout.trim() };
}

export function projectContainers(project: string, all = false): ContainerFact[] {
  const fmt = '{{.ID}}|{{.Label "com.docker.compose.service"}}|{{.Label "mesh.role"}}|{{.State}}|{{.Status}}|{{.Label "mesh.canary"}}|{{.Ports}}';
  const r = docker(['ps', ...(all ? ['-a'] : []), '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`, '--format', fmt]);
  if (r.status !== 0) throw new MeshError('MESH_ERR_DOCKER_UNAVAILABLE', r.stderr.trim());
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, service, role, state, status, canary, ports] = l.split('|');
      const health = /\((healthy|unhealthy|health: starting)\)/.exec(status ?? '')?.[1] ?? '';
      return { id: id!.slice(0, 12), service: service!, role: role!, state: state!, health, ports: ports ?? '', canary: canary === 'true' };
    });
}

export function projectNetworks(project: string, withLabel?: string): string[] {
  const r = docker(['network', 'ls', '--filter', `label=com.docker.compose.project=${project}`, ...(withLabel ? ['--filter', `label=${withLabel}`] : []), '--format', '{{.Name}}']);
  return r.stdout.split('\n').filter(Boolean);
}

export function projectVolumes(project: string): string[] {
  const r = docker(['volume', 'ls', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Name}}']);
  return r.stdout.split('\n').filter(Boolean);
}

/** Host ports the containers publish, as "ip:port" strings ("0.0.0.0:8080"). */
export function publishedPorts(c: ContainerFact): string[] {
  return [...c.ports.matchAll(/((?:\d+\.){3}\d+|\[?::\]?):(\d+)->/g)].map((m) => `${m[1]}:${m[2]}`);
}
