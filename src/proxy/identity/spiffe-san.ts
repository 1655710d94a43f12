// Reads SPIFFE ids from a certificate's URI SANs, and builds the client-side
// check that the server is the mesh identity we meant to reach.
import type { PeerCertificate } from 'node:tls';
import { MeshError } from '../../shared/errors.ts';

/** URI SANs from node:tls's `subjectaltname` text ("URI:a, DNS:b"). */
export function uriSans(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  // Node quotes values holding separators; a SPIFFE id never does, so a
  // quoted URI is skipped rather than half-parsed.
  return subjectaltname
    .split(', ')
    .filter((part) => part.startsWith('URI:') && !part.startsWith('URI:"'))
    .map((part) => part.slice(4));
}

/** The certificate's SPIFFE id; an X509-SVID has exactly one URI SAN. */
export function spiffeIdOf(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): string | undefined {
  const uris = uriSans(cert?.subjectaltname).filter((u) => u.startsWith('spiffe://'));
  return uris.length === 1 ? uris[0] : undefined;
}

/** A node:tls checkServerIdentity that accepts only `expected` as the peer's URI SAN. */
export function checkSpiffeId(expected: string): (hostname: string, cert: PeerCertificate) => Error | undefined {
  return (hostname, cert) => {
    const got = spiffeIdOf(cert);
    if (got === expected) return undefined;
    return new MeshError(
      'MESH_ERR_TLS_PEER_REJECTED',
      `${hostname} presented ${got ?? `no single SPIFFE id (SAN: ${cert.subjectaltname ?? 'none'})`}, expected ${expected}`,
    );
  };
}
