// startProxy(): the sidecar. apply() validates a snapshot, compiles a new
// Runtime, binds new listeners, swaps one reference, then retires what the
// new runtime no longer uses. Identical content changes nothing.
import type { ApplyResult, ProxyHandle, ProxyOptions } from './proxy-handle.ts';
import { parseSnapshot, type Snapshot } from '../shared/snapshot.ts';
import { EndpointRegistry } from './clusters/endpoint-registry.ts';
import { compileRuntime, CompileError } from './runtime/compile-runtime.ts';
import type { Runtime } from './runtime/runtime.ts';
import type { ProxyState } from './runtime/proxy-state.ts';
import { ListenerServer, listenerKey } from './listeners/listener-server.ts';
import { ProxyTelemetry } from './telemetry/proxy-telemetry.ts';
import { AdminServer } from './admin/admin-server.ts';
import { proxyStats } from './admin/proxy-stats-json.ts';
import { HealthCheckManager } from './clusters/health-check-manager.ts';
import { drainListeners } from './listeners/drain-listeners.ts';
import { clustersSwapped } from './clusters/endpoint-waiters.ts';

export async function startProxy(opts: ProxyOptions = {}): Promise<ProxyHandle> {
  const telemetry = new ProxyTelemetry(opts.accessLog ?? process.stdout);
  const state: ProxyState = { runtime: undefined, telemetry, identity: opts.identity };
  const registry = new EndpointRegistry();
  // Active health checks, kept across snapshots (keyed by cluster, endpoint and spec).
  const healthChecks = new HealthCheckManager(telemetry);
  registry.tls = opts.identity ? { identity: opts.identity, stats: telemetry.tls } : undefined;
  opts.identity?.onRotate(() => registry.recycleTlsSessions());
  // Listener servers by name (the diff key is checked on each apply).
  let servers = new Map<string, ListenerServer>();
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  const reject = (error: string, issues: string[]): ApplyResult => {
    telemetry.runtime.snapshot_applies_total.with('rejected').value++;
    return { ok: false, error, issues };
  };

  async function applyNow(input: unknown): Promise<ApplyResult> {
    if (closed) return reject('proxy is closed', ['(root): proxy is closed']);
    let value = input;
    if (typeof input === 'string' || Buffer.isBuffer(input)) {
      try {
        value = JSON.parse(String(input));
      } catch (err) {
        return reject(`invalid snapshot: not JSON (${(err as Error).message})`, [`(root): not JSON: ${(err as Error).message}`]);
      }
    }
    const parsed = parseSnapshot(value);
    if (!parsed.ok) return reject(parsed.error, parsed.issues);
    const snap = parsed.snapshot;
    const live = state.runtime;
    if (live && live.hash === snap.hash) {
      telemetry.runtime.snapshot_applies_total.with('unchanged').value++;
      return { ok: true, changed: false, version: snap.version, hash: snap.hash! };
    }
    // Root rotation: the controller pushes the roots to trust; an identical bundle touches nothing.
    if (opts.identity && snap.tls?.trustBundlePem) {
      try {
        opts.identity.updateTrustBundle(snap.tls.trustBundlePem);
        // `meshctl certs rotate` / a root rotation: renew now when our leaf is from an older generation.
        if (snap.tls.leafGeneration !== undefined) opts.identity.renewIfOlderThan(snap.tls.leafGeneration);
      } catch (err) {
        return reject(`invalid snapshot: tls.trustBundlePem: ${(err as Error).message}`, [`tls.trustBundlePem: ${(err as Error).message}`]);
      }
    }
    let runtime: Runtime;
    try {
      runtime = compileRuntime(snap, registry);
    } catch (err) {
      // Endpoints acquired for the failed compile but unused by the live runtime go again.
      registry.retain(live?.endpointKeys ?? new Set());
      if (err instanceof CompileError) return reject(err.message, err.issues);
      throw err;
    }
    // Bind what is new before the swap, so a port clash rejects the whole snapshot.
    const next = new Map<string, ListenerServer>();
    const fresh: ListenerServer[] = [];
    for (let i = 0; i < snap.listeners.length; i++) {
      const l = snap.listeners[i]!;
      const old = servers.get(l.name);
      if (old && old.key === listenerKey(l)) {
        next.set(l.name, old);
        continue;
      }
      const s = new ListenerServer(l, state);
      try {
        // A listener that changes address keeps its name: free the old socket first when it holds the same port.
        if (old && l.port !== 0 && old.address()?.port === l.port) await old.stopAccepting();
        await s.listen();
      } catch (err) {
        for (const f of fresh) f.destroy();
        registry.retain(live?.endpointKeys ?? new Set());
        const code = (err as NodeJS.ErrnoException).code ?? '';
        return reject(`invalid snapshot: listeners[${i}].port: cannot listen on ${l.address}:${l.port} (${code || (err as Error).message})`, [
          `listeners[${i}].port: cannot listen on ${l.address}:${l.port}: ${code || (err as Error).message}`,
        ]);
      }
      fresh.push(s);
      next.set(l.name, s);
    }
    const retired = [...servers.values()].filter((s) => next.get(s.name) !== s);
    state.runtime = runtime; // the swap
    servers = next;
    telemetry.accessLogEnabled = snap.telemetry.accessLog;
    telemetry.spans.configure(snap.telemetry.tracing, snap.node);
    telemetry.runtime.snapshot_applies_total.with('applied').value++;
    telemetry.runtime.snapshot_version.with().value = snap.version;
    for (const s of retired) void s.drain(snap.drainMs);
    registry.retain(runtime.endpointKeys);
    clustersSwapped(registry, runtime.clusters); // requests queued for a cluster with no endpoint: wake them
    healthChecks.sync(runtime);
    return { ok: true, changed: true, version: snap.version, hash: snap.hash! };
  }

  // Applies run one at a time, in the order they were called.
  function apply(input: unknown): Promise<ApplyResult> {
    const p = queue.then(() => applyNow(input));
    queue = p.catch(() => {});
    return p;
  }

  const current = (): Snapshot | undefined => state.runtime?.snapshot;

  let admin: AdminServer | undefined;
  if (opts.admin) {
    admin = new AdminServer({
      ready: () => state.runtime !== undefined,
      metricsText: () => telemetry.metrics.render(),
      configJson: () => state.runtime?.snapshot,
      statsJson: () => proxyStats(state, servers, registry),
      tap: telemetry.tap,
      tapToken: opts.adminToken,
    });
    await admin.listen(opts.admin.host, opts.admin.port);
  }

  if (opts.snapshot !== undefined) await apply(opts.snapshot);

  return {
    apply,
    current,
    listenerAddress: (name) => servers.get(name)?.address(),
    adminAddress: () => admin?.address(),
    async drain(drainMs) {
      closed = true;
      await queue;
      const ms = drainMs ?? state.runtime?.snapshot.drainMs ?? 20_000;
      // Inbound closes first; outbound keeps serving the app until the period ends or nothing is in flight.
      await drainListeners([...servers.values()], ms);
      healthChecks.stop();
      await registry.destroyAll();
      await admin?.close();
      telemetry.spans.close();
    },
    async close() {
      closed = true;
      await queue;
      for (const s of servers.values()) s.destroy();
      await Promise.all([...servers.values()].map((s) => s.stopAccepting()));
      healthChecks.stop();
      await registry.destroyAll();
      await admin?.close();
      telemetry.spans.close();
    },
  };
}
