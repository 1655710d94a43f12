// Merges mesh-wide defaults with one service's settings: the service wins,
// field by field for object policies.
import type { MeshConfig, ServiceConfig } from '../../shared/mesh-config.ts';

export function resolvePolicies(config: MeshConfig, service: string) {
  const d = config.defaults;
  const s: ServiceConfig = config.services[service] ?? {};
  const merge = <T extends object>(a: T | undefined, b: T | undefined): T | undefined => (a || b ? ({ ...(a ?? {}), ...(b ?? {}) } as T) : undefined);
  const cb = merge(d.circuitBreaker, s.circuitBreaker);
  return {
    timeouts: merge(d.timeouts, s.timeouts),
    retries: s.retries ?? d.retries,
    outlierDetection: s.outlierDetection ?? d.outlierDetection,
    healthCheck: s.healthCheck ?? d.healthCheck,
    endpointWait: s.endpointWait ?? d.endpointWait,
    rateLimit: s.rateLimit ?? d.rateLimit,
    lb: s.lb ?? d.lb,
    mtls: s.mtls ?? d.mtls ?? 'strict', // shared/DESIGN.md: strict unless the user says otherwise
    fault: s.fault,
    routes: s.routes,
    authz: s.authz,
    connectionLimits: {
      maxConnections: cb?.maxConnections ?? 1024,
      maxPendingRequests: cb?.maxPendingRequests ?? 1024,
      maxRequests: cb?.maxRequests ?? 4096,
    },
  };
}
export type ServicePolicies = ReturnType<typeof resolvePolicies>;
