// Who is on the other end of a TLS socket: the SPIFFE id from the peer's
// verified certificate and the TLS version. Identity is reported only for an
// authorized socket, so authorization never acts on an unverified name.
import type { TLSSocket } from 'node:tls';
import { parseSpiffeId } from '../../shared/names.ts';
import { spiffeIdOf } from './spiffe-san.ts';

export interface PeerIdentity {
  spiffeId?: string;
  service?: string;
  project?: string;
  trustDomain?: string;
  serial?: string;
  tlsVersion?: string;
  alpn?: string;
  resumed: boolean;
}

// identity.connect() records the verified peer here: on a resumed TLS 1.3
// session the client side has no peer certificate to read.
export const verifiedPeerSymbol = Symbol.for('meshctl.verifiedPeer');

export function peerIdentity(socket: TLSSocket): PeerIdentity {
  const base = {
    tlsVersion: socket.getProtocol() ?? undefined,
    alpn: socket.alpnProtocol || undefined,
    resumed: socket.isSessionReused(),
  };
  if (!socket.authorized) return base;
  const cert = socket.getPeerCertificate();
  let id = cert && cert.raw ? spiffeIdOf(cert) : undefined;
  let serial: string | undefined = cert?.serialNumber?.toLowerCase();
  const recorded = (socket as unknown as Record<symbol, { spiffeId: string; serial?: string } | undefined>)[verifiedPeerSymbol];
  if (!id && recorded) {
    id = recorded.spiffeId;
    serial = recorded.serial;
  }
  if (!id) return base;
  const parts = parseSpiffeId(id);
  return { ...base, spiffeId: id, serial, ...parts };
}
