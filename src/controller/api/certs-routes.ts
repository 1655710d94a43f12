// The CA's HTTP surface. POST /v1/certs/sign: a sidecar's CSR, authenticated
// by its service token (MESH_TOKEN) or by the bootstrap bearer token with the
// service named in the body; the CA signs for that service only.
// GET /v1/certs (bearer): roots, the leaf last issued to each service and to
// each proxy, the leaf generation and where a root rotation stands.
// POST /v1/certs/rotate (bearer): {scope:"leaves"} every proxy renews now;
// {scope:"root", finish?} starts (or ends) a root rotation.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MeshError } from '../../shared/errors.ts';
import { CertsResponse, RotateRequest, RotateResponse, SignResponse } from '../../shared/identity.ts';
import { formatIssues } from '../../shared/snapshot.ts';
import type { CertAuthority } from '../certs/cert-authority.ts';
import type { ServiceTokens } from '../certs/service-tokens.ts';
import { handleSignRequest } from '../certs/handle-sign-request.ts';
import type { RootRotation } from '../certs/root-rotation.ts';

export interface CertsApi {
  ca: CertAuthority;
  tokens: ServiceTokens;
  rotation: RootRotation;
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
    send(res, 200, CertsResponse.parse({
      trustDomain: api.ca.trustDomain, roots: api.ca.roots(), services: api.ca.issued(),
      leaves: api.ca.leaves(), leafGeneration: api.ca.leafGeneration, rotation: api.rotation.status(),
    }));
    return true;
  }
  if (req.method === 'POST' && path === '/v1/certs/rotate') {
    // Reached only after the API's bearer check (api-server.ts).
    const parsed = RotateRequest.safeParse(await readBody(req));
    if (!parsed.success) {
      send(res, 400, { error: formatIssues(parsed.error, '(body)'), code: 'bad_request' });
      return true;
    }
    const body = parsed.data;
    try {
      if (body.scope === 'leaves') await api.ca.bumpLeafGeneration();
      else if (body.finish) await api.rotation.finish();
      else await api.rotation.begin();
    } catch (err) {
      if (!(err instanceof MeshError)) throw err;
      send(res, err.code === 'MESH_ERR_CONFLICT' ? 409 : 400, { error: `${err.message} (${err.hint})`, code: err.code });
      return true;
    }
    send(res, 200, RotateResponse.parse({ scope: body.scope, leafGeneration: api.ca.leafGeneration, rotation: api.rotation.status() }));
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
