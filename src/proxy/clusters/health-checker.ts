// Active health check of one endpoint for one cluster: an HTTP GET of a path
// (2xx/3xx is healthy) or a TCP connect, every intervalMs. The verdict flips
// after healthyThreshold successes or unhealthyThreshold failures in a row;
// an unhealthy endpoint gets no new requests (EndpointHealth.checkHealthy).
import { http } from '../node-http.ts';
import net from 'node:net';
import type { HealthCheck } from '../../shared/policies.ts';
import type { z } from 'zod';
import type { UpstreamEndpoint } from './upstream-endpoint.ts';
import { healthOf } from './endpoint-health.ts';
import type { ProxyTelemetry } from '../telemetry/proxy-telemetry.ts';
import { resilienceStats } from '../telemetry/resilience-stats.ts';

export type HealthCheckSpec = z.infer<typeof HealthCheck>;

export class HealthChecker {
  private readonly ep: UpstreamEndpoint;
  private readonly spec: HealthCheckSpec;
  private readonly cluster: string;
  private readonly telemetry: ProxyTelemetry;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private successes = 0;
  private failures = 0;
  private inflight: { destroy(): void } | undefined;

  constructor(cluster: string, ep: UpstreamEndpoint, spec: HealthCheckSpec, telemetry: ProxyTelemetry) {
    this.cluster = cluster;
    this.ep = ep;
    this.spec = spec;
    this.telemetry = telemetry;
  }

  start(): void {
    resilienceStats(this.telemetry).endpoint_healthy.with(this.cluster, this.ep.hostPort).value = healthOf(this.ep).checkHealthy ? 1 : 0;
    this.run();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.inflight?.destroy();
  }

  private run(): void {
    if (this.stopped) return;
    this.probe((ok) => {
      this.inflight = undefined;
      if (this.stopped) return;
      this.record(ok);
      this.timer = setTimeout(() => this.run(), this.spec.intervalMs);
      this.timer.unref();
    });
  }

  private record(ok: boolean): void {
    const stats = resilienceStats(this.telemetry);
    stats.health_checks_total.with(this.cluster, this.ep.hostPort, ok ? 'success' : 'failure').value++;
    const h = healthOf(this.ep);
    if (ok) {
      this.failures = 0;
      if (++this.successes >= this.spec.healthyThreshold) h.checkHealthy = true;
    } else {
      this.successes = 0;
      if (++this.failures >= this.spec.unhealthyThreshold) h.checkHealthy = false;
    }
    stats.endpoint_healthy.with(this.cluster, this.ep.hostPort).value = h.checkHealthy ? 1 : 0;
  }

  private probe(done: (ok: boolean) => void): void {
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      done(ok);
    };
    const { address, port } = this.ep;
    if (this.spec.type === 'tcp') {
      const s = net.connect({ host: address, port });
      this.inflight = s;
      s.setTimeout(this.spec.timeoutMs, () => {
        s.destroy();
        finish(false);
      });
      s.once('connect', () => {
        s.destroy();
        finish(true);
      });
      s.once('error', () => finish(false));
      s.once('close', () => finish(false));
      return;
    }
    const req = http.request({ host: address, port, path: this.spec.path, method: 'GET', agent: false, timeout: this.spec.timeoutMs, headers: { 'user-agent': 'meshctl-health-check' } }, (res) => {
      res.resume();
      finish(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 400);
    });
    this.inflight = req;
    req.once('timeout', () => {
      req.destroy();
      finish(false);
    });
    req.once('error', () => finish(false));
    req.end();
  }
}
