// The scenarios and the comparisons the report prints. To add a scenario
// (policies on, mTLS on, ...), add a row here: a chain of hops, client side
// first, optionally with a snapshot patch; then add a comparison row if it
// has a target.
import type { HopSpec } from './hops/hop.ts';
import type { ScenarioResult } from './run-scenario.ts';
import { meshCertArgs } from './hops/mesh-certs.ts';

export interface Scenario {
  id: string;
  label: string;
  /** Client side first; empty means the load generator talks to the upstream. */
  hops: HopSpec[];
  /** Also run the client-disconnect check through this chain. */
  disconnectCheck?: boolean;
}

const mesh: HopSpec = { kind: 'meshctl-http' };

// The mesh path with mTLS between the two sidecars: the client sidecar's cluster
// originates TLS 1.3 (h2 over TLS, one session), the server sidecar's inbound is strict.
const service = (index: number) => (index === 0 ? 'bench-client' : 'bench-upstream');
const meshMtls: HopSpec = {
  kind: 'meshctl-http',
  args: (hop) => meshCertArgs(hop.tmpDir, service(hop.index)),
  snapshot: (s, hop) =>
    hop.index === 0
      ? { ...s, clusters: s.clusters!.map((c) => ({ ...c, tls: { enabled: true } })) }
      : { ...s, listeners: s.listeners!.map((l) => ({ ...l, tls: { mode: 'strict' as const } })) },
};

// The mesh path with every resilience policy on at both hops, none triggering: retries,
// timeouts, a rate limit far above the load, outlier detection, health checks, circuit limits.
const meshPolicies: HopSpec = {
  kind: 'meshctl-http',
  snapshot: (s) => ({
    ...s,
    listeners: s.listeners!.map((l) => ({
      ...l,
      routes: l.routes!.map((r) => ({
        ...r,
        retries: { attempts: 2, perTryTimeoutMs: 5_000 },
        timeouts: { requestMs: 15_000, idleMs: 60_000 },
        rateLimit: { requestsPerSecond: 10_000_000 },
      })),
    })),
    clusters: s.clusters!.map((c) => ({
      ...c,
      timeouts: { connectMs: 1_000 },
      outlierDetection: { consecutiveErrors: 5 },
      healthCheck: { type: 'tcp' as const, intervalMs: 1_000 },
      connectionLimits: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 100_000 },
    })),
  }),
};

export const scenarios: Scenario[] = [
  { id: 'a', label: 'direct', hops: [] },
  { id: 'b', label: 'meshctl, 1 hop', hops: [mesh] },
  { id: 'c', label: 'meshctl, 2 hops (mesh path)', hops: [mesh, mesh], disconnectCheck: true },
  { id: 'cm', label: 'meshctl, 2 hops, mTLS between them', hops: [meshMtls, meshMtls] },
  { id: 'cp', label: 'meshctl, 2 hops, resilience policies on', hops: [meshPolicies, meshPolicies] },
  { id: 'd', label: 'HAProxy, 2 hops', hops: [{ kind: 'haproxy-http' }, { kind: 'haproxy-http' }], disconnectCheck: true },
  { id: 'e', label: 'node-http-proxy, 2 hops', hops: [{ kind: 'node-http-proxy' }, { kind: 'node-http-proxy' }], disconnectCheck: true },
  { id: 'f', label: 'meshctl TCP, 1 hop', hops: [{ kind: 'meshctl-tcp' }] },
  { id: 'ftcp', label: 'HAProxy TCP, 1 hop', hops: [{ kind: 'haproxy-tcp' }] },
];

/**
 * A meshctl scenario picked by `--scenario <id>` (bench/profile-proxy.ts, bench/memory-curve.ts), or
 * undefined when none was asked for; an id that is unknown or has a non-meshctl hop is an error.
 */
export function meshctlScenario(id: string | undefined): Scenario | undefined {
  if (id === undefined) return undefined;
  const picked = scenarios.find((sc) => sc.id === id);
  if (picked === undefined || picked.hops.some((h) => !h.kind.startsWith('meshctl'))) throw new Error(`--scenario must name a meshctl scenario of scenarios.ts, got ${id}`);
  return picked;
}

export interface Comparison {
  label: string;
  unit: string;
  /** Undefined when a scenario it needs did not run or has no figure. */
  value: (r: ReadonlyMap<string, ScenarioResult>) => number | undefined;
  target: { op: '>=' | '<='; value: number };
}

const rps = (r: ReadonlyMap<string, ScenarioResult>, id: string) => r.get(id)?.max?.rps;
const perCore = (r: ReadonlyMap<string, ScenarioResult>, id: string) => r.get(id)?.perCoreRps;
const lat = (r: ReadonlyMap<string, ScenarioResult>, id: string, q: 'p50' | 'p99') => r.get(id)?.fixed?.latency[q];
const svc = (r: ReadonlyMap<string, ScenarioResult>, id: string, q: 'p50' | 'p99') => r.get(id)?.fixed?.service[q];
const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
const diff = (a?: number, b?: number) => (a !== undefined && b !== undefined ? a - b : undefined);
/** The worst of a scenario's proxies for one per-process figure. */
const worst = (r: ReadonlyMap<string, ScenarioResult>, id: string, pick: (p: ScenarioResult['procs'][number]) => number | undefined) => {
  const values = (r.get(id)?.procs ?? []).map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v));
  return values.length ? Math.max(...values) : undefined;
};

// Targets from the data-plane issue.
export const comparisons: Comparison[] = [
  { label: '(c)/(d) throughput, meshctl vs HAProxy pair', unit: 'x', value: (r) => ratio(rps(r, 'c'), rps(r, 'd')), target: { op: '>=', value: 0.5 } },
  { label: '(c)/(e) throughput, meshctl vs node-http-proxy pair', unit: 'x', value: (r) => ratio(rps(r, 'c'), rps(r, 'e')), target: { op: '>=', value: 2 } },
  { label: '(f)/(HAProxy TCP) throughput', unit: 'x', value: (r) => ratio(rps(r, 'f'), rps(r, 'ftcp')), target: { op: '>=', value: 0.9 } },
  // The same three per event loop: requests per CPU-second of the busiest hop.
  { label: '(c)/(d) per core of busiest hop', unit: 'x', value: (r) => ratio(perCore(r, 'c'), perCore(r, 'd')), target: { op: '>=', value: 0.5 } },
  { label: '(c)/(e) per core of busiest hop', unit: 'x', value: (r) => ratio(perCore(r, 'c'), perCore(r, 'e')), target: { op: '>=', value: 2 } },
  { label: '(f)/(HAProxy TCP) per core of busiest hop', unit: 'x', value: (r) => ratio(perCore(r, 'f'), perCore(r, 'ftcp')), target: { op: '>=', value: 0.9 } },
  { label: 'added latency (c)-(a), p50 at 1k req/s', unit: 'ms', value: (r) => diff(lat(r, 'c', 'p50'), lat(r, 'a', 'p50')), target: { op: '<=', value: 0.3 } },
  { label: 'added latency (c)-(a), p99 at 1k req/s', unit: 'ms', value: (r) => diff(lat(r, 'c', 'p99'), lat(r, 'a', 'p99')), target: { op: '<=', value: 1.0 } },
  // The same from the actual send: blind to generator stalls, which dominate p99 on a busy machine.
  { label: '  same, p50 from actual send', unit: 'ms', value: (r) => diff(svc(r, 'c', 'p50'), svc(r, 'a', 'p50')), target: { op: '<=', value: 0.3 } },
  { label: '  same, p99 from actual send', unit: 'ms', value: (r) => diff(svc(r, 'c', 'p99'), svc(r, 'a', 'p99')), target: { op: '<=', value: 1.0 } },
  // Identity issue: what mTLS between the sidecars costs, and the mesh-path targets with it on.
  { label: '(cm)/(c) throughput, mTLS vs plaintext pair', unit: 'x', value: (r) => ratio(rps(r, 'cm'), rps(r, 'c')), target: { op: '>=', value: 0.8 } },
  { label: 'p99 added by mTLS (cm)-(c) at 1k req/s', unit: 'ms', value: (r) => diff(lat(r, 'cm', 'p99'), lat(r, 'c', 'p99')), target: { op: '<=', value: 0.5 } },
  { label: 'added latency (cm)-(a), p50 at 1k req/s', unit: 'ms', value: (r) => diff(lat(r, 'cm', 'p50'), lat(r, 'a', 'p50')), target: { op: '<=', value: 0.3 } },
  { label: 'added latency (cm)-(a), p99 at 1k req/s', unit: 'ms', value: (r) => diff(lat(r, 'cm', 'p99'), lat(r, 'a', 'p99')), target: { op: '<=', value: 1.0 } },
  // Resilience issue: the filter chain with all policies on versus off.
  { label: '(cp)/(c) throughput, resilience policies on vs off', unit: 'x', value: (r) => ratio(rps(r, 'cp'), rps(r, 'c')), target: { op: '>=', value: 0.9 } },
  { label: '(cp)/(c) per core of busiest hop', unit: 'x', value: (r) => ratio(perCore(r, 'cp'), perCore(r, 'c')), target: { op: '>=', value: 0.9 } },
  { label: 'CPU s per 1k req at 1k req/s, worst meshctl proxy in (cm)', unit: 's', value: (r) => worst(r, 'cm', (p) => p.cpuPer1kFixed), target: { op: '<=', value: 0.25 } },
  { label: 'CPU s per 1k req at 1k req/s, worst meshctl proxy in (c)', unit: 's', value: (r) => worst(r, 'c', (p) => p.cpuPer1kFixed), target: { op: '<=', value: 0.25 } },
  { label: 'RSS idle, worst meshctl proxy in (c)', unit: 'MB', value: (r) => worst(r, 'c', (p) => p.rssIdleMB), target: { op: '<=', value: 50 } },
  { label: 'RSS peak at 1k req/s, worst meshctl proxy in (c)', unit: 'MB', value: (r) => worst(r, 'c', (p) => p.rssFixedPeakMB), target: { op: '<=', value: 70 } },
];
