// The rewrite itself, a pure function of the normalised model: every meshable
// service S leaves the user's networks for its own S-net, and a sidecar S-mesh
// takes its place on those networks (alias S) and answers on S-net for every
// service S could reach before. See README.md for each rule and why.
import { Labels } from '../../shared/names.ts';
import { MeshError } from '../../shared/errors.ts';
import { clone, isObj, type ComposeModel, type Obj } from './compose-model.ts';
import { replicasOf, serviceNetworks } from './normalise-service.ts';
import { allocateSubnets, type SubnetOptions } from './subnets.ts';
import { meshReadyBinaries } from '../image/ready-probe/mesh-ready-bin.ts';

/** Where the mesh image carries mesh-ready (src/cli/image/stage-files.ts places it). */
const MESH_READY_PATH = '/usr/local/bin/mesh-ready';

export const SIDECAR_SUFFIX = '-mesh';
export const APP_NET_SUFFIX = '-net';
export const ADMIN_PORT = 15000;
/**
 * V8 heap sizes for the mesh's long-running Node processes, sidecars and the
 * controller (set as NODE_OPTIONS, which allows both flags).
 * Left to itself V8 sizes the heap from the host's RAM: under steady mTLS load
 * the young generation grew to 128 MB and the old one to ~4× the live heap
 * (~20 MB) before a full GC, so a sidecar sat at 260–290 MB of RSS holding
 * garbage. A 4 MB semi-space keeps the young generation at 8 MB. A 512 MB cap
 * on the old space (25× the live heap, so a burst has room before V8 would
 * abort) also makes V8 grow it between full GCs by a factor set from that cap,
 * not from the RAM: the old space stayed at ~21 MB instead of reaching 55–90 MB.
 * Measured with bench/memory-curve.ts (bench/README.md, "Memory under steady load").
 */
export const MESH_NODE_OPTIONS = '--max-semi-space-size=4 --max-old-space-size=512';
/** The network every sidecar (and, at `up`, the controller) joins: the mesh's own data and control plane. */
export const MESH_NETWORK = 'mesh';
export const Extra = {
  /** On an app: the container ports its file declares (ports + expose), e.g. "80/tcp,53/udp". */
  ports: 'mesh.ports',
  /** On a sidecar: unmeshed services it answers for on S-net and must pass through as plain TCP. */
  passthrough: 'mesh.passthrough',
} as const;

export interface RewriteOptions {
  project: string;
  image: string;
  exclude?: string[];
  subnets?: Omit<SubnetOptions, 'seed'>;
  /** Name of the sidecars' shared network (default "mesh", as mesh.config.ts's meshNetwork). */
  meshNetwork?: string;
  /** Ports known from outside the file (the build context's EXPOSE), by service, e.g. ["3000/tcp"]. */
  imagePorts?: Record<string, string[]>;
  /** Extra environment for a sidecar (at `up`: controller address, bootstrap token). */
  sidecarEnv?: (service: string) => Record<string, string>;
}

export interface Skip {
  service: string;
  reason: string;
}

export interface RewriteResult {
  model: ComposeModel;
  meshed: string[];
  skipped: Skip[];
  excluded: string[];
  subnets: Record<string, string>;
  /** Ports each meshed service is known to listen on; [] means they are learned at `up`. */
  ports: Record<string, string[]>;
}

/** Why a service cannot be meshed, or undefined. */
function skipReason(name: string, svc: Obj, model: ComposeModel): string | undefined {
  const mode = svc.network_mode;
  if (typeof mode === 'string' && mode !== '') {
    const m = /^service:(.+)$/.exec(mode);
    if (m) return `network_mode: ${mode}: it shares ${m[1]}'s network namespace, so it is reached through ${m[1]}${model.services[m[1]!] ? ` (and sits behind ${m[1]}${SIDECAR_SUFFIX} if ${m[1]} is meshed)` : ''}`;
    return `network_mode: ${mode}: its network is not one compose manages, so there is no place for a sidecar`;
  }
  if (svc.container_name && replicasOf(svc) > 1) {
    return `container_name with ${replicasOf(svc)} replicas: Docker needs a unique name per container (compose refuses to scale it too); remove container_name to mesh it`;
  }
  if (Array.isArray(svc.external_links) && svc.external_links.length) {
    return 'external_links: the containers it links to are outside the project, and an app on its own S-net could not reach them';
  }
  return undefined;
}

function refuse(message: string, hint?: string): never {
  throw new MeshError('MESH_ERR_COMPOSE_UNSUPPORTED', message, hint);
}

function checkRefusals(model: ComposeModel, candidates: string[], meshNet: string): void {
  for (const [name, svc] of Object.entries(model.services)) {
    const labels = isObj(svc.labels) ? svc.labels : {};
    if (labels[Labels.role] === 'proxy' || (labels[Labels.role] === 'app' && String(name).endsWith(SIDECAR_SUFFIX))) {
      refuse(`service "${name}" is already a mesh sidecar: this file looks like meshctl output`, 'run meshctl inject on your original compose file, not on .mesh/compose.yaml');
    }
  }
  const networks = isObj(model.networks) ? model.networks : {};
  if (candidates.length && meshNet in networks) {
    refuse(`the file already declares a network "${meshNet}", the name of the sidecars' shared network`, `rename your network, or set meshNetwork in mesh.config.ts (and pass the same name to inject)`);
  }
  for (const s of candidates) {
    if (model.services[`${s}${SIDECAR_SUFFIX}`]) refuse(`service "${s}" cannot get its sidecar: the name "${s}${SIDECAR_SUFFIX}" is already a service in the file`, `rename "${s}${SIDECAR_SUFFIX}", or leave "${s}" out with --exclude ${s}`);
    if (`${s}${APP_NET_SUFFIX}` in networks) refuse(`service "${s}" cannot get its network: "${s}${APP_NET_SUFFIX}" is already a network in the file`, `rename the network, or leave "${s}" out with --exclude ${s}`);
  }
}

function aliasesOn(svc: Obj): Set<string> {
  const out = new Set<string>();
  for (const att of Object.values(serviceNetworks(svc))) {
    if (isObj(att) && Array.isArray(att.aliases)) for (const a of att.aliases) out.add(String(a));
  }
  return out;
}

function declaredPorts(svc: Obj, fromImage: string[] = []): string[] {
  const out = new Set<string>();
  for (const p of Array.isArray(svc.ports) ? svc.ports : []) {
    if (isObj(p)) out.add(`${p.target}/${p.protocol ?? 'tcp'}`);
    else {
      // "[ip:][published:]target[/proto]"; a target range stays as written.
      const [spec, proto = 'tcp'] = String(p).split('/');
      const target = spec!.split(':').at(-1)!;
      out.add(`${target}/${proto}`);
    }
  }
  for (const e of Array.isArray(svc.expose) ? svc.expose : []) {
    const [port, proto = 'tcp'] = String(e).split('/');
    out.add(`${port}/${proto}`);
  }
  for (const p of fromImage) out.add(p);
  return [...out];
}

function userSubnets(model: ComposeModel): string[] {
  const out: string[] = [];
  for (const def of Object.values(isObj(model.networks) ? model.networks : {})) {
    const config = isObj(def) && isObj(def.ipam) && Array.isArray(def.ipam.config) ? def.ipam.config : [];
    for (const c of config) if (isObj(c) && typeof c.subnet === 'string') out.push(c.subnet);
  }
  return out;
}

/**
 * Docker healthcheck for an HTTP endpoint on the container's loopback. The image
 * has no shell or curl; it carries mesh-ready (src/cli/image/ready-probe/), a
 * 9 KB static binary that asks the endpoint and, while it is not ready yet,
 * asks again every 50 ms for up to 2.5 s. Docker 20.10 runs the first probe one
 * `interval` after the start (no `start_interval` before API 1.44), so a short
 * interval is what makes a sidecar healthy soon after it is ready; with a
 * static binary each probe costs the engine's exec and next to no CPU in the
 * container (a `node -e` probe cost ~50 ms of CPU and 40 MB each time).
 * Failures in the first minute do not count (start_period); then 10 in a row
 * (each up to 2.5 s) mark it unhealthy, so a loaded machine does not flap it.
 * No `$` in here, so compose interpolation cannot touch it.
 */
export function readyHealthcheck(port: number, path: string): Obj {
  const timing = { interval: '1s', timeout: '3s', retries: 10, start_period: '60s' };
  if (meshReadyBinaries[process.arch]) return { test: ['CMD', MESH_READY_PATH, String(port), path], ...timing };
  // No mesh-ready for this architecture: ask node itself, less often (each probe starts a Node).
  const probe = `fetch('http://127.0.0.1:${port}${path}').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`;
  return { test: ['CMD', '/usr/local/bin/node', '-e', probe], ...timing, interval: '2s' };
}

/** Healthy once the sidecar holds a certificate and has applied a snapshot (its admin /ready). */
export function sidecarHealthcheck(): Obj {
  return readyHealthcheck(ADMIN_PORT, '/ready');
}

export function rewriteCompose(input: ComposeModel, opts: RewriteOptions): RewriteResult {
  const model = clone(input);
  const names = Object.keys(model.services);
  const exclude = opts.exclude ?? [];
  for (const e of exclude) if (!model.services[e]) throw new MeshError('MESH_ERR_USAGE', `--exclude ${e}: there is no service "${e}" (services: ${names.join(', ')})`);

  const skipped: Skip[] = [];
  const meshed: string[] = [];
  for (const name of names) {
    if (exclude.includes(name)) continue;
    const reason = skipReason(name, model.services[name]!, model);
    if (reason) skipped.push({ service: name, reason });
    else meshed.push(name);
  }
  const meshNet = opts.meshNetwork ?? MESH_NETWORK;
  checkRefusals(model, meshed, meshNet);

  // Unmeshed services still on the user's networks: meshed apps reach them
  // through their sidecar, which must pass their traffic through as plain TCP.
  const passthrough = names.filter((n) => !meshed.includes(n) && !model.services[n]!.network_mode);
  const original = Object.fromEntries(names.map((n) => [n, { nets: Object.keys(serviceNetworks(model.services[n]!)), aliases: aliasesOn(model.services[n]!) }]));
  const sharesNet = (a: string, b: string) => original[a]!.nets.some((n) => original[b]!.nets.includes(n));

  const subnets = allocateSubnets(meshed, { ...opts.subnets, taken: [...(opts.subnets?.taken ?? []), ...userSubnets(model)], seed: opts.project });
  const knownPorts: Record<string, string[]> = {};
  const networks: Record<string, Obj | null> = isObj(model.networks) ? { ...(model.networks as Record<string, Obj | null>) } : {};
  const out: ComposeModel = { ...model, services: {} };

  for (const name of names) {
    const svc = model.services[name]!;
    if (!meshed.includes(name)) {
      out.services[name] = svc;
      continue;
    }
    const sidecar = `${name}${SIDECAR_SUFFIX}`;
    const appNet = `${name}${APP_NET_SUFFIX}`;
    const userNets = serviceNetworks(svc);

    // Who the app may call: every service it shared a network with, by name and alias.
    const peerAliases = new Set<string>();
    const peersPassthrough: string[] = [];
    for (const other of [...meshed, ...passthrough]) {
      if (other === name || !sharesNet(name, other)) continue;
      peerAliases.add(other);
      for (const a of original[other]!.aliases) peerAliases.add(a);
      if (passthrough.includes(other)) peersPassthrough.push(other);
    }
    // links: "db:database" becomes an alias on S-net; the link itself cannot cross networks.
    for (const l of Array.isArray(svc.links) ? svc.links : []) {
      const [target, alias = target] = String(l).split(':');
      if (model.services[target!]) peerAliases.add(alias!);
    }
    peerAliases.delete(name);

    const sidecarNets: Record<string, Obj | null> = {};
    for (const [net, att] of Object.entries(userNets)) {
      const { aliases, ...rest } = isObj(att) ? att : ({} as Obj);
      const own = Array.isArray(aliases) ? aliases.map(String) : [];
      sidecarNets[net] = { ...rest, aliases: [...new Set([name, ...own])] };
    }
    sidecarNets[appNet] = { aliases: [...peerAliases].sort() };
    // Sidecar-to-sidecar (mTLS) and controller traffic: one network all sidecars share,
    // whatever user networks their apps were on.
    sidecarNets[meshNet] = null;

    const labels: Record<string, string> = { [Labels.role]: 'proxy', [Labels.service]: name };
    if (peersPassthrough.length) labels[Extra.passthrough] = peersPassthrough.sort().join(',');
    const sc: Obj = {
      image: opts.image,
      command: ['proxy'],
      environment: { MESH_SERVICE: name, MESH_PROJECT: opts.project, NODE_OPTIONS: MESH_NODE_OPTIONS, ...opts.sidecarEnv?.(name) },
      labels,
      networks: sidecarNets,
      healthcheck: sidecarHealthcheck(),
    };
    if (svc.ports !== undefined) sc.ports = svc.ports;
    if (svc.profiles !== undefined) sc.profiles = svc.profiles;
    if (svc.restart !== undefined) sc.restart = svc.restart;

    const app: Obj = { ...svc };
    delete app.ports;
    delete app.links;
    app.networks = { [appNet]: null };
    const appLabels = isObj(svc.labels) ? { ...svc.labels } : {};
    appLabels[Labels.role] = 'app';
    appLabels[Labels.service] = name;
    appLabels[Labels.version] ??= 'v1';
    const ports = declaredPorts(svc, opts.imagePorts?.[name]);
    knownPorts[name] = ports;
    if (ports.length) appLabels[Extra.ports] = ports.join(',');
    app.labels = appLabels;
    app.depends_on = { ...(isObj(svc.depends_on) ? svc.depends_on : {}), [sidecar]: { condition: 'service_healthy' } };

    networks[appNet] = {
      driver: 'bridge',
      ipam: { config: [{ subnet: subnets[name]! }] },
      labels: { [Labels.role]: 'app-net', [Labels.service]: name },
    };
    // Sidecars name `default` explicitly; declare it so every compose version accepts the reference.
    if (Object.keys(userNets).includes('default') && !('default' in networks)) networks.default = {};
    out.services[name] = app;
    out.services[sidecar] = sc;
  }
  // Named `<project>-mesh`, not compose's `<project>_mesh`: Docker forwards published ports to the
  // container's address on its gateway network, the first by name among equals, and '-' sorts
  // before '_'. So host traffic lands on the sidecar's mesh address, where its inbound listeners are.
  if (meshed.length) networks[meshNet] = { name: `${opts.project}-${meshNet}`, driver: 'bridge', labels: { [Labels.role]: 'mesh-net' } };
  out.networks = networks;
  return { model: out, meshed, skipped, excluded: [...exclude], subnets, ports: knownPorts };
}
