// Names shared by every part: labels, identities, generated paths.

export const Labels = {
  service: 'mesh.service',
  version: 'mesh.version',
  role: 'mesh.role', // "app" | "proxy" | "controller"
  composeProject: 'com.docker.compose.project',
  composeService: 'com.docker.compose.service',
} as const;

export const STATE_DIR = '.mesh';
export const DEFAULT_TRUST_DOMAIN = 'mesh.local';

/** The SPIFFE identity of a service's proxy. */
export function spiffeId(trustDomain: string, project: string, service: string): string {
  return `spiffe://${trustDomain}/compose/${project}/svc/${service}`;
}

/** The controller's own identity, on its mTLS push listener (not a service: no `svc/`). */
export function controllerSpiffeId(trustDomain: string, project: string): string {
  return `spiffe://${trustDomain}/compose/${project}/controller`;
}

/** Inverse of spiffeId(); undefined for anything that is not a mesh identity. */
export function parseSpiffeId(uri: string): { trustDomain: string; project: string; service: string } | undefined {
  const m = /^spiffe:\/\/([^/]+)\/compose\/([^/]+)\/svc\/([^/]+)$/.exec(uri);
  return m ? { trustDomain: m[1]!, project: m[2]!, service: m[3]! } : undefined;
}
