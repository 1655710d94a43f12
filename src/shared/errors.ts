// Error codes and the next step for each. Errors a user sees carry a code, a
// message that names what is wrong, and what to do about it.

export const ErrorCodes = {
  MESH_ERR_SNAPSHOT_INVALID: 'the snapshot failed validation; fix the named field',
  MESH_ERR_CONFIG_INVALID: 'mesh.config.ts failed validation; fix the named field and run `meshctl validate`',
  MESH_ERR_FILE_NOT_FOUND: 'check the path, or pass the file with --config / -f',
  MESH_ERR_PORT_IN_USE: 'free the port, or change it in the snapshot / compose file',
  MESH_ERR_DOCKER_UNAVAILABLE: 'start the Docker engine (Docker Desktop, or `sudo dockerd`), then run `meshctl doctor`',
  MESH_ERR_COMPOSE_UNAVAILABLE: 'install Docker Compose v2 (`docker compose`) or v1 (`docker-compose`)',
  MESH_ERR_COMPOSE_UNSUPPORTED: 'exclude the service with --exclude, or change the construct named',
  MESH_ERR_USAGE: 'see `meshctl <command> --help`',
  MESH_ERR_CONTROLLER_UNREACHABLE: 'start the mesh with `meshctl up` (or `meshctl controller` for a local one), or pass --controller <url>; `meshctl doctor` checks it',
  MESH_ERR_CONTROLLER_REJECTED: 'the controller refused the request; the message says why',
  MESH_ERR_COMPOSE_INVALID: 'fix the compose file at the place named (check with `docker compose config` or `docker-compose config`)',
  MESH_ERR_COMPOSE_FAILED: 'read the compose output above; `meshctl doctor` checks the engine and compose',
  MESH_ERR_IMAGE_BUILD: 'check the Docker engine and disk space, then run `meshctl image build` again (add --offline when no registry is reachable)',
  MESH_ERR_CSR_INVALID: 'restart the sidecar so it makes a new key and CSR; if it persists, report the CSR error',
  MESH_ERR_CA_STATE: 'restore .mesh/ca from a backup, or remove .mesh/ca to create a new root (every proxy then renews)',
  MESH_ERR_CERT_EXPIRED: 'compare the clocks named here (Docker Desktop lags after sleep: restart it), then let the proxy renew',
  MESH_ERR_CERT_NOT_YET_VALID: 'compare the clocks named here (Docker Desktop lags after sleep: restart it); notBefore is already backdated 5 min',
  MESH_ERR_TLS_PEER_REJECTED: 'the peer is not the mesh identity expected or not signed by the mesh root; check `meshctl certs`',
  MESH_ERR_SIGN_UNAUTHORIZED: 'the sidecar must send the token meshctl generated for its service (MESH_TOKEN); re-run `meshctl up`',
  MESH_ERR_UP_TIMEOUT: 'run `meshctl status` and `meshctl doctor` to see which proxy is behind and why; `docker compose -f .mesh/compose.yaml logs <service>-mesh` shows its log',
  MESH_ERR_IDENTITY_UNAVAILABLE: 'the proxy has no certificate yet; check that the controller is up and its CA answers',
  MESH_ERR_NOT_FOUND: 'check the name with `meshctl stat` or `meshctl canary status`',
  MESH_ERR_CONFLICT: 'finish the running operation first (for a rollout: `meshctl canary promote|abort <service>`)',
  MESH_ERR_UNSUPPORTED: 'this feature is not available yet; the message names what is missing',
} as const;
export type ErrorCode = keyof typeof ErrorCodes;

export class MeshError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  constructor(code: ErrorCode, message: string, hint?: string) {
    super(message);
    this.name = 'MeshError';
    this.code = code;
    this.hint = hint ?? ErrorCodes[code];
  }
}

/** Exit codes: 0 ok, 1 failure at run time, 2 bad usage or bad input, 3 environment missing. */
export const ExitCodes = { ok: 0, failure: 1, usage: 2, environment: 3 } as const;

export function exitCodeFor(err: unknown): number {
  if (!(err instanceof MeshError)) return ExitCodes.failure;
  switch (err.code) {
    case 'MESH_ERR_USAGE':
    case 'MESH_ERR_SNAPSHOT_INVALID':
    case 'MESH_ERR_CONFIG_INVALID':
    case 'MESH_ERR_FILE_NOT_FOUND':
    case 'MESH_ERR_COMPOSE_UNSUPPORTED':
    case 'MESH_ERR_COMPOSE_INVALID':
    case 'MESH_ERR_NOT_FOUND':
    case 'MESH_ERR_UNSUPPORTED':
      return ExitCodes.usage;
    case 'MESH_ERR_DOCKER_UNAVAILABLE':
    case 'MESH_ERR_COMPOSE_UNAVAILABLE':
    case 'MESH_ERR_PORT_IN_USE':
    case 'MESH_ERR_CONTROLLER_UNREACHABLE':
      return ExitCodes.environment;
    default:
      return ExitCodes.failure;
  }
}
