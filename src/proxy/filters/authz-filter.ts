// Identity and authorization on inbound HTTP: reads the caller's verified
// identity from the mTLS socket, tells the app who called (x-mesh-peer-identity;
// any such header a client sent is stripped when headers are built), then
// applies the listener's AuthzPolicy. Rules see the certificate's identity
// only. Denied: 403 with `x-mesh-error: rbac-denied <rule>`; audit mode lets
// the request through and counts and logs what would have been denied.
import type { Filter } from './filter.ts';
import type { DownstreamRequest } from '../http/exchange.ts';
import { sendProxyError } from '../http/send-proxy-error.ts';
import { listenerAuthz } from '../authz/listener-authz.ts';
import { inboundPeerOf, type InboundPeer } from '../listeners/tls-inbound.ts';
import { AuthzDecisionCounter } from '../telemetry/authz-decision-counter.ts';

export const PEER_IDENTITY_HEADER = 'x-mesh-peer-identity';

/** HTTP/1: the TLS socket itself; HTTP/2: the session, which the listener gave its socket's peer (keepSessionPeer). */
export function requestPeer(req: DownstreamRequest): InboundPeer | undefined {
  const session = (req as { stream?: { session?: unknown } }).stream?.session;
  return inboundPeerOf(session ?? req.socket);
}

export const authzFilter: Filter = (next, ctx) => {
  if (ctx.listener.direction !== 'inbound') return next;
  const spec = ctx.listener.spec;
  const evaluate = listenerAuthz(spec);
  const decisions = ctx.listener.name;
  let counter: AuthzDecisionCounter | undefined;
  return (ex) => {
    const peer = requestPeer(ex.req);
    ex.peer = peer;
    if (peer?.spiffeId) ex.extraHeaders.push(PEER_IDENTITY_HEADER, peer.spiffeId);
    if (!spec.authz || spec.authz.rules.length === 0) return next(ex);
    const d = evaluate({
      source: peer?.service ? { service: peer.service, spiffeId: peer.spiffeId } : undefined,
      port: spec.port || (ex.req.socket?.localPort ?? 0),
      http: { method: ex.req.method ?? 'GET', path: ex.path, headers: ex.req.headers as Record<string, string | string[] | undefined> },
    });
    // The proxy's telemetry is known per request only; its counter is made once.
    if (counter === undefined && ex.telemetry !== undefined) counter = new AuthzDecisionCounter(ex.telemetry.tls.authz_decisions_total, decisions, 'http');
    if (!d.allowed) {
      counter?.count('denied', d.rule ?? '');
      sendProxyError(ex, 'rbac-denied', d.rule ?? '');
      return;
    }
    if (d.audited) {
      counter?.count('audit_denied', d.rule ?? '');
      ex.authzAudit = `would deny: ${d.rule}`;
    } else counter?.count('allowed', d.rule ?? 'default-allow');
    next(ex);
  };
};
