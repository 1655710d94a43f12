// Control-plane figures (issue 5): (a) time from an override set through the
// API until every proxy has ACKed; (b) time from a workload's death until no
// proxy's snapshot routes to it. Prints figures, never passes or fails on time.
//
//   node bench/controller-push.ts [--proxies 50] [--changes 40] [--deaths 20]
//
// The controller runs in this process with its real HTTP server and push hub.
// The proxies are in-process stand-ins: real config clients (HTTP subscribe +
// ACK) whose apply() only validates the snapshot, so the figures are the
// control plane's, not the data plane's compile time.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { startController } from '../src/controller/start-controller.ts';
import type { DiscoverySource, DiscoveryStatus } from '../src/controller/discovery/discovery-source.ts';
import { MeshConfig } from '../src/shared/mesh-config.ts';
import { Workload } from '../src/shared/api.ts';
import { startConfigClient, type ConfigClient } from '../src/proxy/config-client.ts';
import { parseSnapshot, type Snapshot } from '../src/shared/snapshot.ts';
import { summarize } from './lib/percentiles.ts';

const { values: args } = parseArgs({
  options: {
    proxies: { type: 'string', default: '50' },
    changes: { type: 'string', default: '40' },
    deaths: { type: 'string', default: '20' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('node bench/controller-push.ts [--proxies N] [--changes N] [--deaths N]');
  process.exit(0);
}
const N = Number(args.proxies);
const CHANGES = Number(args.changes);
const DEATHS = Number(args.deaths);

/** Static discovery held in memory: the bench sets the list directly, as a Docker event would. */
class MemoryDiscovery implements DiscoverySource {
  #onChange?: (w: Workload[]) => void;
  #workloads: Workload[];
  constructor(workloads: Workload[]) {
    this.#workloads = workloads;
  }
  async start(onChange: (w: Workload[]) => void): Promise<void> {
    this.#onChange = onChange;
    onChange(this.#workloads);
  }
  set(workloads: Workload[]): void {
    this.#workloads = workloads;
    this.#onChange?.(workloads);
  }
  status(): DiscoveryStatus {
    return { kind: 'memory', stale: false, lastEventAt: Date.now() };
  }
  async stop(): Promise<void> {}
}

// N proxy replicas of `product` (each holds the app endpoints on product-net), two app
// versions behind them, and four more services so snapshots are not trivially small.
const services = ['product', 'web', 'order', 'payment', 'inventory'];
const raw: unknown[] = [];
for (let i = 0; i < N; i++) raw.push({ id: `product-mesh-${i}`, service: 'product', role: 'proxy', addresses: { mesh: `10.0.${i >> 8}.${(i & 255) + 1}`, 'product-net': `10.1.${i >> 8}.${(i & 255) + 1}` } });
raw.push({ id: 'product-app-v1', service: 'product', role: 'app', version: 'v1', addresses: { 'product-net': '10.2.0.1' } });
raw.push({ id: 'product-app-v2', service: 'product', role: 'app', version: 'v2', addresses: { 'product-net': '10.2.0.2' } });
for (const [k, s] of services.slice(1).entries()) {
  raw.push({ id: `${s}-app`, service: s, role: 'app', addresses: { [`${s}-net`]: `10.3.${k}.1` } });
  raw.push({ id: `${s}-mesh`, service: s, role: 'proxy', addresses: { mesh: `10.4.${k}.1`, [`${s}-net`]: `10.3.${k}.2` } });
}
const workloads = raw.map((w) => Workload.parse(w));
// The workload that dies in (b): one more app replica of product, v1.
const victim = Workload.parse({ id: 'product-app-v1-b', service: 'product', role: 'app', version: 'v1', addresses: { 'product-net': '10.2.0.99' } });

const dir = mkdtempSync(join(tmpdir(), 'meshctl-bench-ctl-'));
const token = 'bench';
const discovery = new MemoryDiscovery([...workloads, victim]);
const ctl = await startController({
  project: 'bench',
  config: MeshConfig.parse({ defaults: {}, services: Object.fromEntries(services.map((s) => [s, { ports: [8080] }])) }),
  discovery,
  stateDir: join(dir, 'state'),
  listen: { host: '127.0.0.1', port: 0 },
  token,
  mtls: false,
});

const live = new Map<string, Snapshot>();
let onApply = () => {};
const clients: ConfigClient[] = [];
for (let i = 0; i < N; i++) {
  const proxyId = `product-mesh-${i}`;
  clients.push(
    startConfigClient({
      url: ctl.url,
      token,
      service: 'product',
      proxyId,
      handle: {
        current: () => live.get(proxyId),
        async apply(x) {
          const r = parseSnapshot(x);
          if (!r.ok) return r;
          live.set(proxyId, r.snapshot);
          onApply();
          return { ok: true, changed: true, version: r.snapshot.version, hash: r.snapshot.hash! };
        },
      },
    }),
  );
}

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(clients.map((c) => c.close()));
  await ctl.close();
  rmSync(dir, { recursive: true, force: true });
}
process.once('SIGINT', () => void shutdown().then(() => process.exit(130)));

/** Resolves once pred() holds, re-checked after every apply. */
function until(pred: () => boolean): Promise<void> {
  if (pred()) return Promise.resolve();
  return new Promise((resolve) => {
    onApply = () => {
      if (!pred()) return;
      onApply = () => {};
      resolve();
    };
  });
}
const productProxies = () => ctl.core.hub.status().filter((p) => p.service === 'product' && p.proxyId.startsWith('product-mesh-'));
const allAcked = () => {
  const ps = productProxies();
  return ps.length === N && ps.every((p) => p.inSync);
};
async function untilAllAcked(): Promise<void> {
  while (!allAcked()) await ctl.core.hub.nextAck();
}
const routesTo = (addr: string) => (id: string) => JSON.stringify(live.get(id)?.clusters ?? live.get(id) ?? {}).includes(addr);
const ids = Array.from({ length: N }, (_, i) => `product-mesh-${i}`);

try {
  await untilAllAcked();
  if (!ids.every(routesTo(victim.addresses['product-net']!))) throw new Error('harness: the victim workload is not in every proxy snapshot to begin with');

  // (a) override → every proxy ACKed.
  const push: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const t0 = performance.now();
    const res = await fetch(`${ctl.url}/v1/overrides`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'product', weights: { v1: 100 - i - 1, v2: i + 1 } }),
    });
    if (res.status !== 200) throw new Error(`PUT /v1/overrides answered ${res.status}: ${await res.text()}`);
    await res.text();
    await untilAllAcked();
    push.push(performance.now() - t0);
  }

  // (b) workload death → no proxy snapshot holds its address. Each run removes it and
  // brings it back (waiting until every proxy has it again) before the next.
  const addr = victim.addresses['product-net']!;
  const death: number[] = [];
  for (let i = 0; i < DEATHS; i++) {
    const t0 = performance.now();
    discovery.set(workloads);
    await until(() => !ids.some(routesTo(addr)));
    death.push(performance.now() - t0);
    discovery.set([...workloads, victim]);
    await until(() => ids.every(routesTo(addr)));
    await untilAllAcked();
  }

  const a = summarize(push);
  const b = summarize(death);
  const f = (v: number) => v.toFixed(1);
  console.log(`controller push, ${N} proxies (in-process config clients over HTTP), node ${process.version}`);
  console.log(`(a) PUT /v1/overrides → all ${N} ACKed, ${a.count} changes: p50 ${f(a.p50)} ms, p99 ${f(a.p99)} ms, max ${f(a.max)} ms (target p99 < 100 ms)`);
  console.log(`(b) workload removed from discovery → in no proxy snapshot, ${b.count} runs: p50 ${f(b.p50)} ms, max ${f(b.max)} ms (target < 1000 ms; excludes Docker's event delivery)`);
} finally {
  await shutdown();
}
