// The CA's HTTP surface. POST /v1/certs/sign: a sidecar's CSR, authenticated
// by its service token (MESH_TOKEN) or by the bootstrap bearer token with the
// service named in the body; the CA signs for that service only.
// GET /v1/certs (bearer): roots and the leaf last issued to each service.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MeshError } from '../../shared/errors.ts';
import { CertsResponse, SignResponse } from '../../shared/identity.ts';
import type { CertAuthority } from '../certs/cert-authority.ts';
import type { ServiceTokens } from '../certs/service-tokens.ts';
import { handleSignRequest } from '../certs/handle-sign-request.ts';

export interface CertsApi {
  ca: CertAuthority;
  tokens: ServiceTokens;
}

type Send = (res: ServerResponse, status: number, body?: unknown) => void;

const MAX_BODY = 64 * 1024;

/** Returns false when the route is not one of ours. */
export async function certsRoutes(api: CertsApi, req: IncomingMessage, res: ServerResponse, bearerOk: boolean, send: Send): Promise<boolean> {
  const path = new URL(req.url ?? '/', 'http://controller').pathname;
  if (req.method === 'POST' && path === '/v1/certs/sign') {
    const body = await readBody(req);
    if (body === undefined) {
      send(res, 400, { error: 'body is not JSON, or larger than 64 KiB', code: 'MESH_ERR_CSR_INVALID' });
      return true;
    }
    try {
      send(res, 200, SignResponse.parse(await handleSignRequest(api.ca, api.tokens, body, { bearerOk })));
    } catch (err) {
      if (!(err instanceof MeshError)) throw err;
      send(res, err.code === 'MESH_ERR_SIGN_UNAUTHORIZED' ? 403 : 400, { error: `${err.message} (${err.hint})`, code: err.code });
    }
    return true;
  }
  if (req.method === 'GET' && path === '/v1/certs') {
    // Reached only after the API's bearer check (api-server.ts).
    send(res, 200, CertsResponse.parse({ trustDomain: api.ca.trustDomain, roots: api.ca.roots(), services: api.ca.issued() }));
    return true;
  }
  return false;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}
