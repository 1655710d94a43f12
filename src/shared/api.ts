// The controller's wire contract: the registry of workloads (also the static
// discovery file), runtime overrides, push-channel messages and the CLI API's
// responses. Validated on both sides; types are inferred from here.
import { z } from 'zod';
import { FaultPolicy } from './policies.ts';
import { MeshRoute } from './mesh-config.ts';

/** One container (or static entry): an app replica or a sidecar of a service. */
export const Workload = z
  .object({
    id: z.string().min(1),
    service: z.string().min(1),
    version: z.string().min(1).default('v1'),
    role: z.enum(['app', 'proxy']).default('app'),
    healthy: z.boolean().default(true),
    // Network name (without the compose project prefix) → IPv4/IPv6 address.
    addresses: z.record(z.string(), z.string().min(1)).default({}),
    // Network name → DNS aliases the container carries there.
    aliases: z.record(z.string(), z.array(z.string())).default({}),
    // Ports the container declares (image EXPOSE, static file); merged with mesh.config ports.
    ports: z.array(z.number().int().min(1).max(65535)).default([]),
    // Sidecars: container ports published to the host (plaintext from outside the mesh arrives there).
    published: z.array(z.number().int().min(1).max(65535)).optional(),
  })
  .strict();
export type Workload = z.infer<typeof Workload>;

export const StaticDiscoveryFile = z.object({ workloads: z.array(Workload).default([]) }).strict();

export const ServiceOverride = z
  .object({
    // Version subset → weight on the catch-all route (canary split).
    weights: z.record(z.string().min(1), z.number().int().min(0).max(1_000_000)).optional(),
    fault: FaultPolicy.optional(),
    // Routes tried before those of mesh.config.ts.
    routes: z.array(MeshRoute).optional(),
    // Copy `percent` of the catch-all routes' requests to this version's subset (canary --mirror); answers discarded.
    mirror: z.object({ version: z.string().min(1), percent: z.number().min(0).max(100) }).strict().optional(),
    // Headers (canary --header) every proxy carries from an inbound request to the outbound calls of the same
    // trace (W3C traceparent / B3 trace id); the union over all services goes into every snapshot.
    propagateHeaders: z.array(z.string().min(1).transform((s) => s.toLowerCase())).optional(),
  })
  .strict();
export type ServiceOverride = z.infer<typeof ServiceOverride>;

export const Overrides = z.object({ services: z.record(z.string().min(1), ServiceOverride).default({}) }).strict();
export type Overrides = z.infer<typeof Overrides>;

/** PUT /v1/overrides: replaces the named service's override. */
export const OverridePut = z.object({ service: z.string().min(1) }).extend(ServiceOverride.shape).strict();
export type OverridePut = z.infer<typeof OverridePut>;

/** Query of GET /v1/push/subscribe. */
export const SubscribeQuery = z
  .object({
    service: z.string().min(1),
    proxyId: z.string().min(1),
    hash: z.string().optional(),
    version: z.coerce.number().int().min(0).optional(),
    // Where the proxy's admin server listens, for the metrics scrape (host may be 0.0.0.0).
    admin: z.string().regex(/^[^:]+:\d+$/).optional(),
  })
  .strict();
export type SubscribeQuery = z.infer<typeof SubscribeQuery>;

/** One NDJSON line on the push stream. The snapshot is checked again by the proxy. */
export const PushMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('snapshot'), snapshot: z.record(z.string(), z.unknown()) }).strict(),
  z.object({ type: z.literal('ping'), at: z.number() }).strict(),
]);
export type PushMessage = z.infer<typeof PushMessage>;

/** POST /v1/push/ack: what the proxy did with a snapshot. */
export const AckMessage = z
  .object({
    service: z.string().min(1),
    proxyId: z.string().min(1),
    version: z.number().int().min(0),
    hash: z.string().min(1),
    ok: z.boolean(),
    error: z.string().optional(),
  })
  .strict();
export type AckMessage = z.infer<typeof AckMessage>;

export const ServicesResponse = z.object({
  services: z.array(
    z.object({
      name: z.string(),
      versions: z.array(z.string()),
      ports: z.array(z.number()),
      endpoints: z.array(
        z.object({ id: z.string(), role: z.enum(['app', 'proxy']), version: z.string(), healthy: z.boolean(), addresses: z.record(z.string(), z.string()) }),
      ),
    }),
  ),
});
export type ServicesResponse = z.infer<typeof ServicesResponse>;

export const ProxyStatus = z.object({
  proxyId: z.string(),
  service: z.string(),
  connected: z.boolean(),
  // What the controller wants this proxy to run.
  desired: z.object({ version: z.number(), hash: z.string() }).optional(),
  // What the proxy said last.
  ack: z.object({ ok: z.boolean(), version: z.number(), hash: z.string(), error: z.string().optional(), ageMs: z.number() }).optional(),
  inSync: z.boolean(),
  lastSyncAgeMs: z.number().optional(),
});
export const ProxiesResponse = z.object({ proxies: z.array(ProxyStatus) });
export type ProxiesResponse = z.infer<typeof ProxiesResponse>;

export const HealthResponse = z.object({
  ok: z.boolean(),
  project: z.string(),
  discovery: z.object({
    kind: z.string(),
    stale: z.boolean(),
    lastEventAt: z.number().optional(),
    lastEventAgeMs: z.number().optional(),
    error: z.string().optional(),
  }),
  // Problems the snapshot builder found (e.g. two TCP upstreams on one port).
  buildErrors: z.array(z.string()),
  proxies: z.number(),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

const TrafficFigures = z.object({
  rps: z.number(),
  successRate: z.number().nullable(),
  p50Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
  p99Ms: z.number().nullable(),
  retries: z.number(),
  activeConnections: z.number(),
});
export const MetricsResponse = z.object({
  at: z.number(),
  services: z.array(z.object({ service: z.string() }).extend(TrafficFigures.shape)),
  // mtls: how the caller's sidecar reached the destination (its `tls` label); null when unknown. Optional so older controllers still parse.
  edges: z.array(
    z.object({ source: z.string(), destination: z.string() }).extend(TrafficFigures.shape).extend({ mtls: z.enum(['mtls', 'plaintext', 'mixed']).nullable().optional() }),
  ),
  // Per route of a service, inbound side (route = the proxy's `route` label; "" when no route matched).
  // Optional so older controllers still parse.
  routes: z.array(z.object({ service: z.string(), route: z.string() }).extend(TrafficFigures.shape)).optional(),
  // Per version of a service, inbound side (the proxies' `destination_version` label: the picked endpoint's version).
  versions: z.array(z.object({ service: z.string(), version: z.string() }).extend(TrafficFigures.shape)).optional(),
  scrapeErrors: z.array(z.string()),
});
export type MetricsResponse = z.infer<typeof MetricsResponse>;

export const ErrorResponse = z.object({ error: z.string(), code: z.string().optional() });

/** `meshctl tap` filter: query of the proxy's admin `GET /tap` and the controller's `GET /v1/tap/<service>`. */
export const TapFilter = z
  .object({
    // Request path prefix.
    path: z.string().startsWith('/', 'a path prefix starts with /').optional(),
    // Status classes or codes, comma-separated: 5xx, 404, 2xx,304.
    status: z
      .string()
      .regex(/^[1-5](xx|\d\d)(,[1-5](xx|\d\d))*$/i, 'a status class (5xx) or code (404), or several joined by commas')
      .transform((s) => s.toLowerCase())
      .optional(),
    method: z
      .string()
      .regex(/^[A-Za-z]+$/, 'an HTTP method name (GET, POST, ...)')
      .transform((s) => s.toUpperCase())
      .optional(),
  })
  .strict();
export type TapFilter = z.infer<typeof TapFilter>;

/** One request seen by a tapped sidecar (`proxy` is added by the controller's fan-in). */
export const TapRequest = z.object({
  type: z.literal('request'),
  time: z.string(),
  proxy: z.string().optional(),
  service: z.string(),
  direction: z.enum(['inbound', 'outbound']),
  source: z.string(),
  destination: z.string(),
  method: z.string(),
  path: z.string(),
  authority: z.string().optional(),
  route: z.string().optional(),
  status: z.number(),
  latencyMs: z.number(),
  attempts: z.number(),
  traceId: z.string().optional(),
  upstream: z.string().optional(),
  error: z.string().optional(),
});
export type TapRequest = z.infer<typeof TapRequest>;

/** One NDJSON line of a tap stream. */
export const TapMessage = z.discriminatedUnion('type', [
  TapRequest,
  // Lines a slow reader lost (at `proxy`, or at the controller when absent).
  z.object({ type: z.literal('dropped'), count: z.number().int().min(1), proxy: z.string().optional() }),
  // The controller: which sidecars of the service this stream listens to (sent again when that changes).
  z.object({ type: z.literal('tapping'), service: z.string(), proxies: z.array(z.string()) }),
  // The controller: one sidecar's tap failed or ended; it is tried again while the sidecar is connected.
  z.object({ type: z.literal('proxy-error'), proxy: z.string(), error: z.string() }),
]);
export type TapMessage = z.infer<typeof TapMessage>;
