// A meshctl sidecar as a hop, run the way users run it:
// `node src/cli/main.ts proxy --config <snapshot.json> --admin 127.0.0.1:<port>`.
// Hop 0 of a chain is the client sidecar (outbound listener), the others are
// server sidecars (inbound listener), so two hops are the mesh path.
import { existsSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSnapshot, type SnapshotInput } from '../../src/shared/snapshot.ts';
import { MESH_NODE_OPTIONS } from '../../src/cli/compose/rewrite-compose.ts';
import { IMAGE_V8_FLAGS } from '../../src/cli/image/build-image.ts';
import { freePort, httpGet, tcpReachable, waitUntil } from '../lib/net.ts';
import { HopUnavailable, type Address, type HopContext, type StartedHop } from './hop.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const meshctlEntries = {
  // As the interface says: the CLI from source, with Node's type stripping.
  src: join(repoRoot, 'src/cli/main.ts'),
  // After `npm run build`: what the published package runs (no type stripping, ~17 MB less RSS).
  dist: join(repoRoot, 'dist/cli/main.js'),
};

/** The V8 flags a sidecar runs with in a container (its NODE_OPTIONS and the image's entrypoint), so the bench measures what ships. */
export const shippedNodeArgs: string[] = [...MESH_NODE_OPTIONS.split(' ').filter(Boolean), ...IMAGE_V8_FLAGS];

export const meshctlSettings = {
  /** Off by default, as in Istio's default profile and in the HAProxy hops. */
  accessLog: false,
  /** CLI entry file; src, dist or a path. */
  entry: meshctlEntries.src,
  /** Node flags before the entry (bench/profile-proxy.ts: --cpu-prof, --trace-gc, V8 heap flags); npm run bench sets shippedNodeArgs. */
  nodeArgs: [] as string[],
  /** Where the proxies' stdout goes (a file per hop, for --trace-gc lines); default: discarded. */
  stdoutFile: undefined as ((index: number) => string) | undefined,
};

/** Why the meshctl hops cannot run here, or undefined when they can be tried. */
export function meshctlUnavailable(): string | undefined {
  const { entry } = meshctlSettings;
  if (entry === meshctlEntries.src && !existsSync(join(repoRoot, 'src/proxy/run-proxy.ts'))) return 'src/proxy/run-proxy.ts does not exist yet';
  if (!existsSync(entry)) return `${entry} does not exist${entry === meshctlEntries.dist ? ' (run `npm run build`)' : ''}`;
  return undefined;
}

export function baseSnapshot(protocol: 'http' | 'tcp', listen: Address, target: Address, index: number): SnapshotInput {
  const direction: 'outbound' | 'inbound' = index === 0 ? 'outbound' : 'inbound';
  const cluster = {
    name: 'next',
    service: 'bench-upstream',
    protocol: protocol === 'http' ? ('http1' as const) : ('tcp' as const),
    endpoints: [{ address: target.host, port: target.port }],
  };
  const listener =
    protocol === 'http'
      ? {
          name: `bench-${direction}`,
          address: listen.host,
          port: listen.port,
          direction,
          protocol: 'http' as const,
          routes: [{ name: 'all', service: 'bench-upstream', destinations: [{ cluster: 'next' }] }],
        }
      : {
          name: `bench-${direction}`,
          address: listen.host,
          port: listen.port,
          direction,
          protocol: 'tcp' as const,
          tcp: { destinations: [{ cluster: 'next' }], service: 'bench-upstream' },
        };
  return {
    version: 1,
    node: { service: index === 0 ? 'bench-client' : 'bench-upstream', project: 'bench' },
    listeners: [listener],
    clusters: [cluster],
    telemetry: { accessLog: meshctlSettings.accessLog },
  };
}

export async function startMeshctlHop(ctx: HopContext, protocol: 'http' | 'tcp'): Promise<StartedHop> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const listen = { host: '127.0.0.1', port };
  let snap = baseSnapshot(protocol, listen, ctx.target, ctx.index);
  if (ctx.spec.snapshot) snap = await ctx.spec.snapshot(snap, { index: ctx.index, count: ctx.count, tmpDir: ctx.tmpDir });
  // Catch a bench bug here, with the field path, rather than as a proxy that never gets ready.
  const parsed = parseSnapshot(snap);
  if (!parsed.ok) throw new Error(`bench built an invalid snapshot: ${parsed.error}`);
  const missing = meshctlUnavailable();
  if (missing) throw new HopUnavailable(missing);
  const file = join(ctx.tmpDir, `meshctl-hop${ctx.index}-${protocol}.json`);
  writeFileSync(file, JSON.stringify(snap, null, 2));
  const name = `meshctl hop ${ctx.index}`;
  const extra = ctx.spec.args ? await ctx.spec.args({ index: ctx.index, count: ctx.count, tmpDir: ctx.tmpDir }) : [];
  const out = meshctlSettings.stdoutFile?.(ctx.index);
  const p = ctx.procs.start(name, process.execPath, [...meshctlSettings.nodeArgs, meshctlSettings.entry, 'proxy', '--config', file, '--admin', `127.0.0.1:${adminPort}`, ...extra], {
    cwd: repoRoot,
    ...(out !== undefined ? { stdio: ['ignore', openSync(out, 'w'), 'pipe'] as ('ignore' | 'pipe' | number)[] } : {}),
  });
  const stop = () => (p.child.exitCode !== null ? `exited with code ${p.child.exitCode}: ${p.tail().slice(-400) || '(no output)'}` : undefined);
  try {
    await waitUntil(async () => (await httpGet(`http://127.0.0.1:${adminPort}/ready`, 500)).status === 200, { what: 'GET /ready = 200', stop, timeoutMs: 15_000 });
    await waitUntil(() => tcpReachable(port), { what: `listener on ${port}`, stop, timeoutMs: 5_000 });
  } catch (err) {
    throw new HopUnavailable(`${(err as Error).message}${p.tail() && !stop() ? ` (stderr: ${p.tail().slice(-300)})` : ''}`);
  }
  return { listen, process: p, admin: { host: '127.0.0.1', port: adminPort } };
}
