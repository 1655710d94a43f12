// Outbound mTLS to a peer sidecar for one upstream endpoint: connects with this
// proxy's certificate, checks the server's SPIFFE id, resumes the last session
// with that peer (WorkloadIdentity keeps it), and counts full vs resumed
// handshakes so the "<1% new handshakes" target can be checked.
import type tls from 'node:tls';
import { parseSpiffeId, spiffeId } from '../../shared/names.ts';
import type { MetricFamily } from '../telemetry/metrics-registry.ts';
import type { WorkloadIdentity } from './workload-identity.ts';

export interface TlsOriginationSpec {
  cluster: string;
  /** Destination service; the expected identity is derived from it when spiffeId is absent. */
  service: string;
  spiffeId?: string;
  serverName?: string;
}

export interface TlsOrigination {
  /** Starts a handshake; `alpn` ['h2'] for HTTP, [] for opaque TCP. Throws without a usable certificate. */
  connect(alpn: string[]): tls.TLSSocket;
}

export function tlsOrigination(
  identity: WorkloadIdentity | undefined,
  handshakes: MetricFamily | undefined,
  spec: TlsOriginationSpec,
  host: string,
  port: number,
): TlsOrigination {
  const expected = (): string => {
    if (spec.spiffeId) return spec.spiffeId;
    // Same trust domain and project as this proxy: a mesh never calls across projects.
    const own = parseSpiffeId(identity!.current().spiffeId)!;
    return spiffeId(own.trustDomain, own.project, spec.service);
  };
  return {
    connect(alpn) {
      if (!identity) {
        const err = new Error(`cluster ${spec.cluster} speaks mTLS but this proxy has no identity (start it with a signer or certificate files)`) as Error & { code: string };
        err.code = 'MESH_ERR_IDENTITY_UNAVAILABLE';
        throw err;
      }
      const socket = identity.connect({ host, port, expectedSpiffeId: expected(), alpn, servername: spec.serverName });
      socket.setNoDelay(true);
      socket.once('secureConnect', () => {
        handshakes?.with(spec.cluster, socket.isSessionReused() ? 'true' : 'false').inc();
      });
      return socket;
    },
  };
}
