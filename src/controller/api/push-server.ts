// The push channel over mTLS (DESIGN.md, "Snapshots and the push protocol"):
// a second listener, TLS 1.3 only, with a server certificate from the mesh CA
// (spiffe://<td>/compose/<project>/controller) and a client certificate
// required and verified against the mesh roots. The subscriber's service is
// the one its verified certificate names; a subscription or ACK that claims
// another service is refused with 403. Only subscribe and ack live here: the
// sign endpoint stays on the token-authenticated bootstrap listener, which is
// how a sidecar gets the certificate it presents here.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { AckMessage, SubscribeQuery } from '../../shared/api.ts';
import { parseSpiffeId } from '../../shared/names.ts';
import type { ControllerCore } from '../controller-core.ts';
import { bad, readJson, send } from './api-server.ts';

export interface PushServerTls {
  keyPem: string;
  certPem: string;
  /** Mesh roots client certificates must chain to. */
  trustBundlePem: string;
}

/** Who may subscribe: certificates of this trust domain and project only. */
export interface PushServerScope {
  trustDomain: string;
  project: string;
}

export function createPushServer(core: ControllerCore, tls: PushServerTls, scope: PushServerScope): Server {
  return createServer(
    { key: tls.keyPem, cert: tls.certPem, ca: tls.trustBundlePem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' },
    (req, res) => {
      handle(core, scope, req, res).catch((err) => send(res, 500, { error: (err as Error).message }));
    },
  );
}

/** Installs a renewed server certificate or a new trust bundle; live connections keep theirs. */
export function updatePushServerTls(server: Server, tls: PushServerTls): void {
  server.setSecureContext({ key: tls.keyPem, cert: tls.certPem, ca: tls.trustBundlePem, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
}

/** The mesh service named by the peer's verified certificate, or why there is none. */
export function verifiedService(socket: TLSSocket, scope: PushServerScope): { service: string } | { error: string } {
  if (!socket.authorized) return { error: `client certificate not verified: ${socket.authorizationError ?? 'none presented'}` };
  const sans = (socket.getPeerCertificate()?.subjectaltname ?? '').split(', ').filter((s) => s.startsWith('URI:spiffe://'));
  if (sans.length !== 1) return { error: 'the client certificate carries no single SPIFFE id' };
  const id = parseSpiffeId(sans[0]!.slice(4));
  if (!id) return { error: `${sans[0]!.slice(4)} is not a mesh service identity` };
  if (id.trustDomain !== scope.trustDomain || id.project !== scope.project) {
    return { error: `${sans[0]!.slice(4)} belongs to another mesh (expected trust domain ${scope.trustDomain}, project ${scope.project})` };
  }
  return { service: id.service };
}

async function handle(core: ControllerCore, scope: PushServerScope, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://controller');
  const route = `${req.method} ${url.pathname}`;
  if (route !== 'GET /v1/push/subscribe' && route !== 'POST /v1/push/ack') {
    return send(res, 404, { error: `no route ${route} on the push listener (the API is on the bootstrap listener)` });
  }
  const peer = verifiedService(req.socket as TLSSocket, scope);
  if ('error' in peer) return send(res, 403, { error: peer.error, code: 'forbidden' });
  if (route === 'GET /v1/push/subscribe') {
    const q = SubscribeQuery.safeParse(Object.fromEntries(url.searchParams));
    if (!q.success) return bad(res, q.error);
    if (q.data.service !== peer.service) return refuse(res, peer.service, q.data.service);
    req.socket.setKeepAlive(true, 10_000);
    return core.hub.subscribe(q.data, res, req.socket.remoteAddress ?? '127.0.0.1');
  }
  const body = await readJson(req, res, AckMessage);
  if (!body) return;
  if (body.service !== peer.service) return refuse(res, peer.service, body.service);
  core.hub.ack(body);
  return send(res, 204);
}

function refuse(res: ServerResponse, certified: string, claimed: string): void {
  send(res, 403, { error: `the client certificate is for service "${certified}", not "${claimed}"`, code: 'forbidden' });
}
