// Pure: mesh config + registry + overrides → one snapshot per proxy replica.
// No I/O, no clock. Everything is sorted, so the same inputs in any order give
// byte-identical snapshots (compare with canonicalJson) and equal hashes.
//
// Topology (shared/DESIGN.md, one proxy per service S, named S-mesh):
//   outbound  out:P   on S-mesh's address on S-net, port P, for every port P a
//                     service T (T ≠ S, T allowed to be called by S) listens on;
//                     HTTP routes by host (T and its aliases) → out:T:P, whose
//                     endpoints are T-mesh replicas on the shared network.
//   inbound   in:P    on S-mesh's mesh-network address, port P → in:S:P = S's
//                     app replicas on S-net (subsets in:S:P:<version> for splits).
import type { MeshConfig, MeshProtocol, MeshRoute, ServiceConfig } from '../../shared/mesh-config.ts';
import type { Overrides, Workload } from '../../shared/api.ts';
import { parseSnapshot, type Cluster, type Route, type Snapshot, type SnapshotInput } from '../../shared/snapshot.ts';
import { resolvePolicies, type ServicePolicies } from './resolve-policies.ts';
import { spiffeId } from '../../shared/names.ts';

export interface BuildInput {
  project: string;
  config: MeshConfig;
  registry: readonly Workload[];
  overrides: Overrides;
  /** Identity material, when the CA has issued it: trust bundle and a chain per service. */
  certs?: { trustBundlePem: string; chains: Record<string, string>; leafGeneration?: number };
}

export interface BuildOutput {
  /** Proxy workload id → its snapshot (version 0; the push cache numbers them). */
  snapshots: Map<string, Snapshot>;
  /** Problems found, each naming the service and port; the offending part is left out. */
  errors: string[];
}

type ServiceView = {
  name: string;
  apps: Workload[];
  proxies: Workload[];
  ports: { port: number; protocol: MeshProtocol }[];
  aliases: string[];
  policies: ServicePolicies;
  /** Ports its sidecars publish to the host. */
  published: Set<number>;
};

type ListenerInput = NonNullable<SnapshotInput['listeners']>[number];

const byStr = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function buildSnapshots(input: BuildInput): BuildOutput {
  const { config, overrides } = input;
  const registry = [...input.registry].sort((a, b) => byStr(a.id, b.id));
  const services = viewServices(config, registry);
  const errors: string[] = [];
  const snapshots = new Map<string, Snapshot>();
  const privateNets = new Set([...services.keys()].map((s) => `${s}-net`));
  // Canary test headers: every proxy carries them from an inbound request to the outbound calls of its trace.
  const propagate = [...new Set(Object.values(overrides.services).flatMap((o) => o.propagateHeaders ?? []))].sort(byStr);

  for (const [name, svc] of services) {
    if (svc.proxies.length === 0) continue;
    // What the service's sidecars listen for and call is the same for every
    // replica; only the addresses the listeners bind differ.
    const inbound: ListenerInput[] = [];
    const outbound: ListenerInput[] = [];
    const clusters: Cluster[] = [];

    // Inbound: one listener per port this service listens on.
    for (const { port, protocol } of svc.ports) {
      const side = inboundSide(svc, port, protocol, overrides.services[name], errors);
      inbound.push({ ...side.listener, ...inboundTls(svc, port, input.certs !== undefined) });
      clusters.push(...side.clusters);
    }

    // Outbound: group callees by port; each port is one listener.
    const byPort = new Map<number, { target: ServiceView; protocol: MeshProtocol }[]>();
    for (const [tName, target] of services) {
      if (tName === name || !mayCall(name, target.policies)) continue;
      for (const { port, protocol } of target.ports) {
        byPort.set(port, [...(byPort.get(port) ?? []), { target, protocol }]);
      }
    }
    for (const port of [...byPort.keys()].sort((a, b) => a - b)) {
      const targets = byPort.get(port)!;
      const tcp = targets.filter((t) => t.protocol === 'tcp');
      if (tcp.length && targets.length > 1) {
        const all = targets.map((t) => t.target.name).join(', ');
        errors.push(
          `${name}: port ${port}: ${all} all listen on it and ${tcp.map((t) => t.target.name).join(', ')} speaks opaque TCP, ` +
            `so ${name}'s proxy cannot tell them apart; give one another port, or declare it http in mesh.config.ts`,
        );
        continue;
      }
      const routes: Route[] = [];
      for (const { target, protocol } of targets) {
        const cluster = outboundCluster(target, port, protocol, config.meshNetwork, privateNets, svc.proxies);
        // mTLS to the callee's sidecar once the mesh has a CA, unless the callee turned it off
        // (or has no sidecar: an unmeshed service is called in plaintext).
        if (input.certs && target.policies.mtls !== 'disabled' && target.proxies.length > 0) cluster.tls = { enabled: true, spiffeId: spiffeId(config.trustDomain, input.project, target.name) };
        clusters.push(cluster);
        if (protocol !== 'tcp') routes.push(outboundRoute(target, port, cluster.name, overrides.services[target.name]));
      }
      outbound.push(
        tcp.length
          ? {
              name: `out:${port}`, port, direction: 'outbound', protocol: 'tcp',
              tcp: { destinations: [{ cluster: `out:${tcp[0]!.target.name}:${port}`, weight: 1 }], service: tcp[0]!.target.name },
            }
          : { name: `out:${port}`, port, direction: 'outbound', protocol: 'http', routes },
      );
    }
    clusters.sort((a, b) => byStr(a.name, b.name));
    const gen = input.certs?.leafGeneration ? { leafGeneration: input.certs.leafGeneration } : {};
    const tls = input.certs ? { tls: { trustDomain: config.trustDomain, trustBundlePem: input.certs.trustBundlePem, certChainPem: input.certs.chains[name], ...gen } } : {};

    for (const proxy of svc.proxies) {
      const meshAddr = sharedAddress(proxy, config.meshNetwork, privateNets) ?? '0.0.0.0';
      const privAddr = proxy.addresses[`${name}-net`] ?? '0.0.0.0';
      const listeners = [...inbound.map((l) => ({ ...l, address: meshAddr })), ...outbound.map((l) => ({ ...l, address: privAddr }))];
      const snap: SnapshotInput = {
        version: 0,
        node: { service: name, project: input.project, id: proxy.id },
        listeners: listeners.sort((a, b) => byStr(a.name, b.name)),
        clusters,
        ...tls,
        ...(propagate.length ? { headerPropagation: { headers: propagate } } : {}),
        ...(config.telemetry ? { telemetry: { accessLog: config.telemetry.accessLog ?? true, tracing: config.telemetry.tracing ?? { sampleRate: 1 } } } : {}),
      };
      const r = parseSnapshot(snap);
      if (!r.ok) {
        errors.push(`${name} (proxy ${proxy.id}): built an invalid snapshot: ${r.issues.join('; ')}`);
        continue;
      }
      snapshots.set(proxy.id, r.snapshot);
    }
  }
  return { snapshots, errors: errors.sort(byStr) };
}

function viewServices(config: MeshConfig, registry: Workload[]): Map<string, ServiceView> {
  const names = [...new Set(registry.map((w) => w.service))].sort(byStr);
  const out = new Map<string, ServiceView>();
  for (const name of names) {
    const cfg: ServiceConfig = config.services[name] ?? {};
    const apps = registry.filter((w) => w.service === name && w.role === 'app');
    const proxies = registry.filter((w) => w.service === name && w.role === 'proxy');
    const base = cfg.protocol ?? config.defaults.protocol;
    const ports = new Map<number, MeshProtocol>();
    for (const w of apps) for (const p of w.ports) ports.set(p, base);
    // The config wins over what containers declare.
    for (const p of cfg.ports ?? []) {
      if (typeof p === 'number') ports.set(p, base);
      else ports.set(p.port, p.protocol ?? base);
    }
    const aliases = new Set<string>([name, ...(cfg.aliases ?? [])]);
    for (const w of apps) for (const list of Object.values(w.aliases)) for (const a of list) if (!/^[0-9a-f]{12,}$/.test(a)) aliases.add(a);
    out.set(name, {
      name,
      apps,
      proxies,
      ports: [...ports].sort((a, b) => a[0] - b[0]).map(([port, protocol]) => ({ port, protocol })),
      aliases: [...aliases].map((a) => a.toLowerCase()).sort(byStr),
      policies: resolvePolicies(config, name),
      published: new Set(proxies.flatMap((w) => w.published ?? [])),
    });
  }
  return out;
}

/**
 * The inbound listener's mTLS mode (only once the mesh has a CA). A port the
 * sidecar publishes to the host keeps accepting plaintext even in strict mode:
 * requests from the host carry no certificate, and Docker delivers them on the
 * mesh network's address, the same socket peers use. Such a listener is
 * permissive and marked `hostPublished`, so plaintext on it is counted, never hidden.
 */
function inboundTls(svc: ServiceView, port: number, mtls: boolean): { tls?: { mode: 'disabled' | 'strict' | 'permissive'; hostPublished?: boolean } } {
  if (!mtls) return {};
  const mode = svc.policies.mtls;
  if (mode === 'strict' && svc.published.has(port)) return { tls: { mode: 'permissive', hostPublished: true } };
  return { tls: { mode } };
}

/** A proxy's address on the network sidecars share: the mesh network, else any non-private one. */
function sharedAddress(w: Workload, meshNetwork: string, privateNets: Set<string>): string | undefined {
  if (w.addresses[meshNetwork]) return w.addresses[meshNetwork];
  const nets = Object.keys(w.addresses).filter((n) => !privateNets.has(n)).sort(byStr);
  return nets.length ? w.addresses[nets[0]!] : undefined;
}

function clusterProtocol(p: MeshProtocol): Cluster['protocol'] {
  return p === 'tcp' ? 'tcp' : p === 'http' ? 'http1' : 'http2';
}

/** Whether S may call T at all; finer rules (paths, methods) are enforced by T's proxy. */
function mayCall(source: string, target: ServicePolicies): boolean {
  const authz = target.authz;
  if (!authz || authz.mode !== 'enforce' || authz.rules.length === 0) return true;
  const applies = (r: (typeof authz.rules)[number]) => !r.from || r.from.includes(source);
  const unconditional = (r: (typeof authz.rules)[number]) => !r.methods && !r.paths && !r.ports && !r.headers;
  if (authz.rules.some((r) => r.action === 'deny' && r.from?.includes(source) && unconditional(r))) return false;
  const allows = authz.rules.filter((r) => r.action === 'allow');
  return allows.length === 0 || allows.some(applies);
}

function outboundCluster(target: ServiceView, port: number, protocol: MeshProtocol, meshNetwork: string, privateNets: Set<string>, callers: Workload[] = []): Cluster {
  const p = target.policies;
  const endpoints: Cluster['endpoints'] = [];
  for (const w of target.proxies) {
    const address = sharedAddress(w, meshNetwork, privateNets);
    if (address) endpoints.push({ address, port, weight: 1, labels: {}, healthy: w.healthy });
  }
  // An unmeshed service (--exclude, or skipped by the rewrite: the sidecar label mesh.passthrough names it)
  // has no sidecar: the caller's sidecar reaches its app containers directly, in plaintext, on a user
  // network they share (the app left those networks only if it is meshed).
  if (target.proxies.length === 0) {
    const callerNets = new Set(callers.flatMap((c) => Object.keys(c.addresses)));
    for (const w of target.apps) {
      const net = Object.keys(w.addresses).filter((n) => callerNets.has(n) && !privateNets.has(n)).sort(byStr)[0];
      if (net) endpoints.push({ address: w.addresses[net]!, port, weight: 1, labels: {}, healthy: w.healthy });
    }
  }
  endpoints.sort((a, b) => byStr(a.address, b.address));
  return {
    name: `out:${target.name}:${port}`,
    service: target.name,
    protocol: clusterProtocol(protocol),
    endpoints,
    lb: p.lb ?? 'peak_ewma',
    connectionLimits: p.connectionLimits,
    ...(p.outlierDetection ? { outlierDetection: p.outlierDetection } : {}),
    ...(p.endpointWait ? { endpointWait: p.endpointWait } : {}),
    ...(p.timeouts?.connectMs !== undefined ? { timeouts: { connectMs: p.timeouts.connectMs } } : {}),
  };
}

function outboundRoute(target: ServiceView, port: number, cluster: string, override: Overrides['services'][string] | undefined): Route {
  const p = target.policies;
  const fault = override?.fault ?? p.fault;
  return {
    name: `out:${target.name}:${port}`,
    match: { hosts: target.aliases },
    destinations: [{ cluster, weight: 1 }],
    service: target.name,
    ...(p.timeouts ? { timeouts: p.timeouts } : {}),
    ...(p.retries ? { retries: p.retries } : {}),
    ...(fault ? { fault } : {}),
  } as Route;
}

function inboundSide(
  svc: ServiceView,
  port: number,
  protocol: MeshProtocol,
  override: Overrides['services'][string] | undefined,
  errors: string[],
): { listener: ListenerInput; clusters: Cluster[] } {
  const p = svc.policies;
  const base = `in:${svc.name}:${port}`;
  const endpointsFor = (apps: Workload[]) => {
    const eps: Cluster['endpoints'] = [];
    for (const w of apps) {
      const address = w.addresses[`${svc.name}-net`] ?? onlyAddress(w);
      if (address) eps.push({ address, port, weight: 1, labels: { version: w.version }, healthy: w.healthy });
    }
    return eps.sort((a, b) => byStr(a.address, b.address));
  };
  const makeCluster = (name: string, apps: Workload[]): Cluster => ({
    name,
    service: svc.name,
    protocol: clusterProtocol(protocol),
    endpoints: endpointsFor(apps),
    lb: p.lb ?? 'peak_ewma',
    connectionLimits: p.connectionLimits,
    ...(p.healthCheck ? { healthCheck: p.healthCheck } : {}),
    ...(p.outlierDetection ? { outlierDetection: p.outlierDetection } : {}),
    ...(p.endpointWait ? { endpointWait: p.endpointWait } : {}),
  });
  const clusters = new Map<string, Cluster>([[base, makeCluster(base, svc.apps)]]);
  const subset = (version: string) => {
    const name = `${base}:${version}`;
    if (!clusters.has(name)) clusters.set(name, makeCluster(name, svc.apps.filter((w) => w.version === version)));
    return name;
  };
  const listenerPolicies = {
    ...(p.rateLimit ? { rateLimit: p.rateLimit } : {}),
    ...(p.authz ? { authz: p.authz } : {}),
  };
  if (protocol === 'tcp') {
    return {
      listener: { name: `in:${port}`, port, direction: 'inbound', protocol: 'tcp', tcp: { destinations: [{ cluster: base, weight: 1 }], service: svc.name }, ...listenerPolicies },
      clusters: [...clusters.values()],
    };
  }
  const split = (to: MeshRoute['to'], where: string) => {
    const live = to.filter((t) => svc.apps.some((w) => w.version === t.version));
    if (live.length < to.length) {
      const missing = to.filter((t) => !live.includes(t)).map((t) => t.version);
      errors.push(`${svc.name}: ${where}: no replica runs version ${missing.join(', ')}; ${live.length ? 'its share goes to the others' : 'the route keeps it, and requests fail until one starts'}`);
    }
    const use = live.length && live.some((t) => t.weight > 0) ? live : to;
    return use.map((t) => ({ cluster: subset(t.version), weight: t.weight }));
  };
  const weights = override?.weights && Object.keys(override.weights).length
    ? Object.entries(override.weights).sort((a, b) => byStr(a[0], b[0])).map(([version, weight]) => ({ version, weight }))
    : undefined;
  // Canary --mirror: the catch-all routes copy a share of their requests to the version's subset.
  const mirrored = (() => {
    const m = override?.mirror;
    if (!m || m.percent <= 0) return {};
    if (!svc.apps.some((w) => w.version === m.version)) {
      errors.push(`${svc.name}: mirror: no replica runs version ${m.version}; nothing is copied`);
      return {};
    }
    return { mirror: { cluster: subset(m.version), percent: m.percent } };
  })();
  const routes: Route[] = [];
  const configured = [...(override?.routes ?? []), ...(p.routes ?? [])];
  configured.forEach((r, i) => {
    const catchAll = Object.keys(r.match ?? {}).length === 0;
    const to = catchAll && weights ? weights : r.to;
    const mirror = catchAll ? mirrored : {};
    routes.push({
      name: `${base}:${r.name ?? `route-${i}`}`,
      match: r.match ?? {},
      destinations: split(to, `route ${r.name ?? i}`),
      service: svc.name,
      ...(r.timeouts ? { timeouts: r.timeouts } : {}),
      ...(r.retries ? { retries: r.retries } : {}),
      ...(r.fault ? { fault: r.fault } : {}),
      ...mirror,
    } as Route);
  });
  routes.push({
    name: `${base}:default`,
    match: {},
    destinations: weights ? split(weights, 'canary weights') : [{ cluster: base, weight: 1 }],
    service: svc.name,
    ...mirrored,
  } as Route);
  return {
    listener: { name: `in:${port}`, port, direction: 'inbound', protocol: 'http', routes, ...listenerPolicies },
    clusters: [...clusters.values()],
  };
}

/** Static entries may give a single address without naming networks. */
function onlyAddress(w: Workload): string | undefined {
  const vals = Object.values(w.addresses);
  return vals.length === 1 ? vals[0] : undefined;
}

