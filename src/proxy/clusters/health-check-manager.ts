// Keeps one HealthChecker per (cluster, endpoint, health-check spec) across
// snapshots: a push that keeps them keeps their counters and verdicts; a
// removed endpoint's checker stops and its verdict resets to healthy.
import type { Runtime } from '../runtime/runtime.ts';
import type { ProxyTelemetry } from '../telemetry/proxy-telemetry.ts';
import { HealthChecker } from './health-checker.ts';
import { healthOf } from './endpoint-health.ts';
import type { UpstreamEndpoint } from './upstream-endpoint.ts';

export class HealthCheckManager {
  private readonly telemetry: ProxyTelemetry;
  private checkers = new Map<string, { checker: HealthChecker; ep: UpstreamEndpoint }>();

  constructor(telemetry: ProxyTelemetry) {
    this.telemetry = telemetry;
  }

  sync(runtime: Runtime): void {
    const next = new Map<string, { checker: HealthChecker; ep: UpstreamEndpoint }>();
    for (const cluster of runtime.clusters.values()) {
      const spec = cluster.spec.healthCheck;
      if (spec === undefined) continue;
      const specKey = JSON.stringify(spec);
      for (const ep of cluster.endpoints) {
        const key = `${cluster.name}|${ep.key}|${specKey}`;
        let c = this.checkers.get(key);
        if (c === undefined) {
          c = { checker: new HealthChecker(cluster.name, ep, spec, this.telemetry), ep };
          c.checker.start();
        }
        next.set(key, c);
      }
    }
    const checked = new Set([...next.values()].map((c) => c.ep));
    for (const [key, c] of this.checkers) {
      if (next.has(key)) continue;
      c.checker.stop();
      // No checker left for it: it takes traffic again on the strength of the snapshot alone.
      if (!checked.has(c.ep)) healthOf(c.ep).checkHealthy = true;
    }
    this.checkers = next;
  }

  stop(): void {
    for (const c of this.checkers.values()) c.checker.stop();
    this.checkers.clear();
  }
}
