// Policy slots of the snapshot: resilience (timeouts, retries, faults, rate
// limits, circuit breaking, health checks), security (TLS, authorization).
// Each is compiled once per snapshot by the proxy and acts per request.
import { z } from 'zod';

const ms = z.number().int().min(0).max(24 * 3600 * 1000);
const percent = z.number().min(0).max(100);

export const Timeouts = z
  .object({
    requestMs: ms.optional(), // whole request, all attempts
    perTryMs: ms.optional(),
    idleMs: ms.optional(), // streams with no bytes either way
    connectMs: ms.optional(),
  })
  .strict();

export const RetryPolicy = z
  .object({
    attempts: z.number().int().min(0).max(10).default(2), // retries after the first try
    perTryTimeoutMs: ms.optional(),
    backoff: z
      .object({ baseMs: ms.default(25), maxMs: ms.default(250) })
      .strict()
      .default({ baseMs: 25, maxMs: 250 }),
    on: z
      .array(z.enum(['connect-failure', 'reset', '502', '503', '504', '5xx', 'gateway-error', 'retriable-4xx', 'grpc']))
      .default(['connect-failure', 'reset', '502', '503', '504']),
    retriable4xx: z.array(z.number().int().min(400).max(499)).default([409]),
    grpcStatuses: z.array(z.number().int().min(0).max(16)).default([14]),
    // Non-idempotent methods are retried only when the route opts in.
    retryNonIdempotent: z.boolean().default(false),
    maxBodyBytes: z.number().int().min(0).default(64 * 1024),
    budget: z
      .object({ ratio: z.number().min(0).max(10).default(0.2), minPerSecond: z.number().min(0).default(10) })
      .strict()
      .default({ ratio: 0.2, minPerSecond: 10 }),
  })
  .strict();

export const FaultPolicy = z
  .object({
    delay: z.object({ percent, ms }).strict().optional(),
    abort: z
      .object({
        percent,
        httpStatus: z.number().int().min(200).max(599).optional(),
        grpcStatus: z.number().int().min(0).max(16).optional(),
        tcpReset: z.boolean().optional(),
      })
      .strict()
      .optional(),
    // Only requests with this header (exact value, or any value when omitted).
    header: z.object({ name: z.string().min(1), value: z.string().optional() }).strict().optional(),
  })
  .strict();

export const RateLimitPolicy = z
  .object({
    requestsPerSecond: z.number().positive(),
    burst: z.number().int().min(1).optional(),
    key: z.union([z.literal('none'), z.literal('source'), z.object({ header: z.string().min(1) }).strict()]).default('none'),
  })
  .strict();

export const HealthCheck = z
  .object({
    type: z.enum(['http', 'tcp']).default('tcp'),
    path: z.string().startsWith('/').default('/'),
    intervalMs: ms.default(5000),
    timeoutMs: ms.default(1000),
    healthyThreshold: z.number().int().min(1).default(1),
    unhealthyThreshold: z.number().int().min(1).default(2),
  })
  .strict();

export const OutlierDetection = z
  .object({
    consecutiveErrors: z.number().int().min(1).default(5),
    baseEjectionMs: ms.default(30_000),
    maxEjectionPercent: percent.default(50),
    // Each repeat ejection lasts baseEjectionMs × times ejected, up to this.
    maxEjectionMs: ms.default(300_000),
  })
  .strict();

// A cluster with no endpoint at all (a callee's sidecar being recreated): requests wait for a snapshot
// that brings one, up to min(maxMs, the request's remaining timeout), at most maxQueued at a time (Linkerd's
// queue), then fail with 503 no-healthy-endpoint. maxMs 0: fail at once.
export const EndpointWait = z
  .object({
    maxMs: ms.default(3000),
    maxQueued: z.number().int().min(0).default(100),
  })
  .strict();

export const Failover = z.object({ destinations: z.array(z.object({ cluster: z.string().min(1), weight: z.number().int().min(0).default(1) }).strict()).min(1) }).strict();

export const TlsMode = z.enum(['disabled', 'strict', 'permissive']);

// Identity material for the proxy itself. The private key never appears here:
// each proxy keeps its own key in memory (see DESIGN.md, "Identity").
export const TlsSettings = z
  .object({
    trustDomain: z.string().min(1).default('mesh.local'),
    // PEM certificate chain issued to this proxy, and the roots it trusts.
    certChainPem: z.string().optional(),
    trustBundlePem: z.string().optional(),
    // The CA's leaf generation: a proxy whose leaf is from a lower one renews at
    // once (`meshctl certs rotate`, root rotation). Absent: no forced renewal.
    leafGeneration: z.number().int().min(0).optional(),
  })
  .strict();

export const AuthzRule = z
  .object({
    name: z.string().min(1),
    action: z.enum(['allow', 'deny']).default('allow'),
    from: z.array(z.string().min(1)).optional(), // source service names (from the peer's certificate)
    methods: z.array(z.string()).optional(),
    paths: z.array(z.string()).optional(), // exact, "prefix*" or glob
    ports: z.array(z.number().int()).optional(),
    headers: z.array(z.object({ name: z.string(), value: z.string() }).strict()).optional(),
  })
  .strict();

export const AuthzPolicy = z
  .object({
    mode: z.enum(['enforce', 'audit']).default('enforce'),
    rules: z.array(AuthzRule).default([]),
  })
  .strict();

/** Spread into the snapshot's objects, so each slot sits where it applies. */
export const policySchemas = {
  route: {
    timeouts: Timeouts.optional(),
    retries: RetryPolicy.optional(),
    fault: FaultPolicy.optional(),
    rateLimit: RateLimitPolicy.optional(),
    failover: Failover.optional(),
  },
  listener: {
    timeouts: Timeouts.optional(),
    rateLimit: RateLimitPolicy.optional(),
    fault: FaultPolicy.optional(),
    // mTLS on this inbound listener: strict refuses plaintext, permissive serves
    // it and counts it. `hostPublished`: a plaintext-accepting listener kept for
    // ports published to the host (traffic from outside the mesh has no certificate).
    tls: z.object({ mode: TlsMode.default('disabled'), hostPublished: z.boolean().optional() }).strict().optional(),
    authz: AuthzPolicy.optional(),
  },
  cluster: {
    timeouts: Timeouts.optional(),
    healthCheck: HealthCheck.optional(),
    outlierDetection: OutlierDetection.optional(),
    endpointWait: EndpointWait.optional(),
    // Speak mTLS to these endpoints (sidecar to sidecar).
    // spiffeId: the identity the endpoints must present (default: the cluster's
    // service in this proxy's own trust domain and project).
    tls: z.object({ enabled: z.boolean().default(false), serverName: z.string().optional(), spiffeId: z.string().optional() }).strict().optional(),
  },
  snapshot: {
    tls: TlsSettings.optional(),
    drainMs: ms.default(20_000),
  },
} as const;
