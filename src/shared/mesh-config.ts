// The user's mesh.config.ts: what each service speaks, its policies and its
// routes. One zod schema; the types users see come from it. `defineMesh()` is
// an identity function that only gives the user's editor the types.
import { z } from 'zod';
import {
  AuthzPolicy,
  EndpointWait,
  FaultPolicy,
  HealthCheck,
  OutlierDetection,
  RateLimitPolicy,
  RetryPolicy,
  Timeouts,
  TlsMode,
} from './policies.ts';
import { RouteMatch } from './snapshot.ts';
import { DEFAULT_TRUST_DOMAIN } from './names.ts';

const serviceName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]*$/, 'a compose service name (lower-case letters, digits, _ . -)');
const versionName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a version label such as v1');
const portNumber = z.number().int().min(1).max(65535);

export const MeshProtocol = z.enum(['http', 'http2', 'grpc', 'tcp']);

export const PortSpec = z.union([
  portNumber,
  z
    .object({
      port: portNumber,
      protocol: MeshProtocol.optional(), // defaults to the service's protocol
      name: z.string().optional(),
    })
    .strict(),
]);

export const CircuitBreaker = z
  .object({
    maxConnections: z.number().int().min(1).optional(),
    maxPendingRequests: z.number().int().min(0).optional(),
    maxRequests: z.number().int().min(1).optional(),
  })
  .strict();

export const LoadBalancer = z.enum(['round_robin', 'least_request', 'peak_ewma']);

/** A route on the callee: requests matching `match` go to version subsets by weight. */
export const MeshRoute = z
  .object({
    name: z.string().min(1).optional(),
    match: RouteMatch.default({}),
    to: z
      .array(z.object({ version: versionName, weight: z.number().int().min(0).max(1_000_000).default(1) }).strict())
      .min(1),
    timeouts: Timeouts.optional(),
    retries: RetryPolicy.optional(),
    fault: FaultPolicy.optional(),
  })
  .strict();

/** Policies that may be set per service or mesh-wide under `defaults`. */
const policyFields = {
  timeouts: Timeouts.optional(),
  retries: RetryPolicy.optional(),
  circuitBreaker: CircuitBreaker.optional(),
  outlierDetection: OutlierDetection.optional(),
  healthCheck: HealthCheck.optional(),
  // How long and how many requests wait while the service has no endpoint (its sidecar or replicas recreated).
  endpointWait: EndpointWait.optional(),
  rateLimit: RateLimitPolicy.optional(),
  lb: LoadBalancer.optional(),
  mtls: TlsMode.optional(),
};

export const ServiceConfig = z
  .object({
    protocol: MeshProtocol.optional(),
    ports: z.array(PortSpec).optional(),
    // Extra host names callers may use for this service (compose aliases are added by discovery).
    aliases: z.array(z.string().min(1)).optional(),
    ...policyFields,
    fault: FaultPolicy.optional(),
    routes: z.array(MeshRoute).optional(),
    authz: AuthzPolicy.optional(),
  })
  .strict();

export const MeshConfig = z
  .object({
    trustDomain: z.string().min(1).default(DEFAULT_TRUST_DOMAIN),
    // The network every sidecar joins; sidecars reach each other on it.
    meshNetwork: z.string().min(1).default('mesh'),
    defaults: z
      .object({ protocol: MeshProtocol.default('http'), ...policyFields })
      .strict()
      .default({ protocol: 'http' }),
    services: z.record(serviceName, ServiceConfig).default({}),
    // Every sidecar's telemetry: access logs, and span export over OTLP/HTTP (JSON) when an endpoint is set.
    telemetry: z
      .object({
        accessLog: z.boolean().optional(),
        tracing: z
          .object({
            // e.g. http://jaeger:4318 (spans go to /v1/traces), or a full URL with its path.
            otlpEndpoint: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL, e.g. http://jaeger:4318' }),
            // Share of new traces recorded; a caller's sampled flag is always kept.
            sampleRate: z.number().min(0).max(1).default(1),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type MeshConfig = z.infer<typeof MeshConfig>;
export type MeshConfigInput = z.input<typeof MeshConfig>;
export type ServiceConfig = z.infer<typeof ServiceConfig>;
export type MeshRoute = z.infer<typeof MeshRoute>;
export type PortSpec = z.infer<typeof PortSpec>;
export type MeshProtocol = z.infer<typeof MeshProtocol>;

/** For users: `export default defineMesh({...})` gives full types in the editor. */
export function defineMesh(config: MeshConfigInput): MeshConfigInput {
  return config;
}
