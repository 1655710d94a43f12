// The snapshot: everything one proxy needs, as one immutable, versioned value.
// The controller builds it, the proxy validates and applies it atomically. One
// schema for both sides; the TypeScript types below are inferred from it.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { policySchemas } from './policies.ts';

const name = z.string().min(1).max(253).regex(/^[A-Za-z0-9][A-Za-z0-9_.:@/-]*$/, 'letters, digits and _ . : @ / - only');
const port = z.number().int().min(0).max(65535);

export const StringMatch = z.union([
  z.object({ exact: z.string() }).strict(),
  z.object({ prefix: z.string() }).strict(),
  z.object({ regex: z.string() }).strict(),
]);
export type StringMatch = z.infer<typeof StringMatch>;

export const HeaderMatch = z
  .object({
    name: z.string().min(1).transform((s) => s.toLowerCase()),
    exact: z.string().optional(),
    prefix: z.string().optional(),
    regex: z.string().optional(),
    present: z.boolean().optional(),
    invert: z.boolean().default(false),
  })
  .strict();
export type HeaderMatch = z.infer<typeof HeaderMatch>;

export const RouteMatch = z
  .object({
    // Host / :authority without port. "*.example" matches any subdomain; "*" anything.
    hosts: z.array(z.string().min(1).transform((s) => s.toLowerCase())).optional(),
    path: z
      .union([
        z.object({ exact: z.string().startsWith('/') }).strict(),
        z.object({ prefix: z.string().startsWith('/') }).strict(),
        z.object({ regex: z.string() }).strict(),
      ])
      .optional(),
    methods: z.array(z.string().min(1).transform((s) => s.toUpperCase())).optional(),
    headers: z.array(HeaderMatch).optional(),
  })
  .strict();
export type RouteMatch = z.infer<typeof RouteMatch>;

export const WeightedDestination = z
  .object({
    cluster: name,
    weight: z.number().int().min(0).max(1_000_000).default(1),
  })
  .strict();
export type WeightedDestination = z.infer<typeof WeightedDestination>;

export const Route = z
  .object({
    name,
    match: RouteMatch.default({}),
    destinations: z.array(WeightedDestination).min(1),
    // Destination service name, for metrics and access logs.
    service: z.string().optional(),
    // Copy this percent of the route's requests to `cluster`, fire-and-forget, answers discarded (shadow traffic).
    mirror: z.object({ cluster: name, percent: z.number().min(0).max(100) }).strict().optional(),
    ...policySchemas.route,
  })
  .strict();
export type Route = z.infer<typeof Route>;

export const Listener = z
  .object({
    name,
    address: z.string().min(1).default('0.0.0.0'),
    port,
    direction: z.enum(['inbound', 'outbound']),
    protocol: z.enum(['http', 'tcp', 'auto']).default('auto'),
    // HTTP listeners: routes are tried in order; the first match wins.
    routes: z.array(Route).default([]),
    // TCP listeners (and auto listeners whose bytes are not HTTP): where opaque
    // traffic goes.
    tcp: z
      .object({ destinations: z.array(WeightedDestination).min(1), service: z.string().optional() })
      .strict()
      .optional(),
    // How long an auto listener waits for the client's first bytes before it
    // treats the connection as opaque TCP (server-speaks-first protocols).
    detectTimeoutMs: z.number().int().min(0).max(60_000).default(500),
    ...policySchemas.listener,
  })
  .strict();
export type Listener = z.infer<typeof Listener>;

export const Endpoint = z
  .object({
    address: z.string().min(1),
    port,
    weight: z.number().int().min(1).max(1_000_000).default(1),
    labels: z.record(z.string(), z.string()).default({}),
    healthy: z.boolean().default(true),
  })
  .strict();
export type Endpoint = z.infer<typeof Endpoint>;

export const Cluster = z
  .object({
    name,
    service: z.string().optional(),
    // What the proxy speaks to these endpoints. http1 and http2 (h2c, or h2 when
    // TLS is on) for HTTP; tcp for opaque streams.
    protocol: z.enum(['http1', 'http2', 'tcp']).default('http1'),
    endpoints: z.array(Endpoint).default([]),
    lb: z.enum(['round_robin', 'least_request', 'peak_ewma']).default('peak_ewma'),
    connectionLimits: z
      .object({
        maxConnections: z.number().int().min(1).default(1024),
        maxPendingRequests: z.number().int().min(0).default(1024),
        maxRequests: z.number().int().min(1).default(4096),
      })
      .strict()
      .default({ maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 4096 }),
    ...policySchemas.cluster,
  })
  .strict();
export type Cluster = z.infer<typeof Cluster>;

export const Telemetry = z
  .object({
    accessLog: z.boolean().default(true),
    tracing: z
      .object({
        otlpEndpoint: z.string().url().optional(),
        sampleRate: z.number().min(0).max(1).default(1),
      })
      .strict()
      .default({ sampleRate: 1 }),
  })
  .strict()
  .default({ accessLog: true, tracing: { sampleRate: 1 } });

export const Snapshot = z
  .object({
    version: z.number().int().min(0),
    // Filled in by hashSnapshot(); a snapshot read from a file may omit it.
    hash: z.string().optional(),
    node: z
      .object({
        service: z.string().min(1),
        project: z.string().default('local'),
        id: z.string().optional(),
      })
      .strict(),
    listeners: z.array(Listener).default([]),
    clusters: z.array(Cluster).default([]),
    telemetry: Telemetry,
    // Headers (canary test headers) remembered from an inbound request by its trace id and added to the outbound
    // requests of the same trace (filters/header-propagation-filter.ts), for ttlMs, at most maxEntries traces.
    headerPropagation: z
      .object({
        headers: z.array(z.string().min(1).transform((s) => s.toLowerCase())).min(1),
        ttlMs: z.number().int().min(100).max(3_600_000).default(60_000),
        maxEntries: z.number().int().min(1).max(1_000_000).default(10_000),
      })
      .strict()
      .optional(),
    ...policySchemas.snapshot,
  })
  .strict()
  .superRefine((snap, ctx) => {
    const clusters = new Set(snap.clusters.map((c) => c.name));
    if (clusters.size !== snap.clusters.length) {
      ctx.addIssue({ code: 'custom', path: ['clusters'], message: 'cluster names must be unique' });
    }
    const seen = new Set<string>();
    snap.listeners.forEach((l, li) => {
      const key = `${l.address}:${l.port}`;
      if (l.port !== 0 && seen.has(key)) {
        ctx.addIssue({ code: 'custom', path: ['listeners', li, 'port'], message: `two listeners on ${key}` });
      }
      seen.add(key);
      l.routes.forEach((r, ri) => {
        r.destinations.forEach((d, di) => {
          if (!clusters.has(d.cluster)) {
            ctx.addIssue({
              code: 'custom',
              path: ['listeners', li, 'routes', ri, 'destinations', di, 'cluster'],
              message: `unknown cluster "${d.cluster}"`,
            });
          }
        });
        if (r.mirror && !clusters.has(r.mirror.cluster)) {
          ctx.addIssue({ code: 'custom', path: ['listeners', li, 'routes', ri, 'mirror', 'cluster'], message: `mirror cluster "${r.mirror.cluster}" is not in clusters` });
        }
        r.failover?.destinations.forEach((d, di) => {
          if (!clusters.has(d.cluster)) {
            ctx.addIssue({
              code: 'custom',
              path: ['listeners', li, 'routes', ri, 'failover', 'destinations', di, 'cluster'],
              message: `failover cluster "${d.cluster}" is not in clusters`,
            });
          }
        });
      });
      l.tcp?.destinations.forEach((d, di) => {
        if (!clusters.has(d.cluster)) {
          ctx.addIssue({
            code: 'custom',
            path: ['listeners', li, 'tcp', 'destinations', di, 'cluster'],
            message: `unknown cluster "${d.cluster}"`,
          });
        }
      });
      if (l.protocol === 'tcp' && !l.tcp) {
        ctx.addIssue({ code: 'custom', path: ['listeners', li, 'tcp'], message: 'a tcp listener needs tcp.destinations' });
      }
    });
  });
export type Snapshot = z.infer<typeof Snapshot>;
export type SnapshotInput = z.input<typeof Snapshot>;

/** Canonical JSON: object keys sorted, so equal content gives equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]));
    }
    return v;
  });
}

/** Content hash over everything except version and hash themselves. */
export function snapshotHash(snap: Snapshot): string {
  const { version: _v, hash: _h, ...content } = snap;
  return createHash('sha256').update(canonicalJson(content)).digest('hex').slice(0, 16);
}

export type ParseResult = { ok: true; snapshot: Snapshot } | { ok: false; error: string; issues: string[] };

/** Validate untrusted input; the error names each failing field by its path. */
export function parseSnapshot(input: unknown): ParseResult {
  const r = Snapshot.safeParse(input);
  if (!r.success) {
    const issues = issueLines(r.error);
    return { ok: false, error: `invalid snapshot: ${issues.join('; ')}`, issues };
  }
  const snapshot = r.data;
  snapshot.hash = snapshotHash(snapshot);
  return { ok: true, snapshot };
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(root)';
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

/** One line per zod issue, "path: message"; `root` names an issue about the whole value. */
export function issueLines(error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }, root = '(root)'): string[] {
  return error.issues.map((i) => `${i.path.length ? formatPath(i.path) : root}: ${i.message}`);
}

/** The issues of a failed parse as one line, for an error message. */
export function formatIssues(error: Parameters<typeof issueLines>[0], root?: string): string {
  return issueLines(error, root).join('; ');
}
