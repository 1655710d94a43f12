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
      return ExitCodes.usage;
    case 'MESH_ERR_DOCKER_UNAVAILABLE':
    case 'MESH_ERR_COMPOSE_UNAVAILABLE':
    case 'MESH_ERR_PORT_IN_USE':
      return ExitCodes.environment;
    default:
      return ExitCodes.failure;
  }
}
