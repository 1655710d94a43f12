// The controller as a service of the user's project: the mesh image running
// `controller`, reading Docker through the socket, its state in .mesh/, its
// API published on 127.0.0.1 only (the CLI's way in), on the mesh network
// where the sidecars get their certificate (token, port 15010) and then
// subscribe over mTLS (port 15011, never published).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { MESH_NODE_OPTIONS, readyHealthcheck } from '../compose/rewrite-compose.ts';

export const CONTROLLER_SERVICE = 'mesh-controller';
export const CONTROLLER_PORT = 15010;
/** The mTLS push listener: mesh network only, client certificates from the mesh CA. */
export const CONTROLLER_PUSH_PORT = 15011;

export interface ControllerServiceOptions {
  project: string;
  image: string;
  token: string;
  /** Host port for the API (127.0.0.1 only). */
  hostPort: number;
  /** Absolute .mesh/ folder (bind-mounted as /state). */
  stateDir: string;
  /** Absolute mesh.config.ts, if any (mounted read-only). */
  configFile?: string;
  meshNetwork: string;
}

export function dockerSocket(): string {
  const h = process.env.DOCKER_HOST;
  return h?.startsWith('unix://') ? h.slice('unix://'.length) : '/var/run/docker.sock';
}

export function controllerService(o: ControllerServiceOptions): Record<string, unknown> {
  const command = ['controller', '--project', o.project, '--discovery', 'docker', '--listen', `0.0.0.0:${CONTROLLER_PORT}`,
    '--push-listen', `0.0.0.0:${CONTROLLER_PUSH_PORT}`, '--push-dns', CONTROLLER_SERVICE, '--state-dir', '/state'];
  const volumes = [`${dockerSocket()}:/var/run/docker.sock`, `${o.stateDir}:/state`];
  if (o.configFile) {
    const target = `/config/${basename(o.configFile)}`;
    volumes.push(`${o.configFile}:${target}:ro`);
    command.push('--config', target);
  }
  return {
    image: o.image,
    command,
    working_dir: '/state',
    // MESH_IMAGE: the image discovery's port-learning helper runs (the controller's own).
    // NODE_OPTIONS: bounded V8 heap, as in the sidecars (rewrite-compose.ts says why).
    environment: { MESH_BOOTSTRAP_TOKEN: o.token, MESH_IMAGE: o.image, NODE_OPTIONS: MESH_NODE_OPTIONS },
    // A changed mesh.config.ts changes this label, so `up` again recreates the controller (and only it).
    labels: { 'mesh.role': 'controller', ...(o.configFile ? { 'mesh.config-hash': createHash('sha256').update(readFileSync(o.configFile)).digest('hex').slice(0, 16) } : {}) },
    volumes,
    ports: [`127.0.0.1:${o.hostPort}:${CONTROLLER_PORT}`],
    networks: { [o.meshNetwork]: null },
    restart: 'unless-stopped',
    healthcheck: readyHealthcheck(CONTROLLER_PORT, '/v1/health'),
  };
}
