// The /stats document: live version, listeners, endpoints and totals, for
// the dashboard and `meshctl top`.
import type { ProxyState } from '../runtime/proxy-state.ts';
import type { ListenerServer } from '../listeners/listener-server.ts';
import type { EndpointRegistry } from '../clusters/endpoint-registry.ts';

export function proxyStats(state: ProxyState, servers: ReadonlyMap<string, ListenerServer>, registry: EndpointRegistry): unknown {
  const rt = state.runtime;
  const t = state.telemetry;
  return {
    ready: rt !== undefined,
    version: rt?.version,
    hash: rt?.hash,
    service: rt?.snapshot.node.service,
    listeners: [...servers.values()].map((s) => {
      const l = rt?.listeners.get(s.name);
      return { name: s.name, direction: l?.direction, protocol: l?.spec.protocol, ...s.address(), activeConnections: s.activeConnections() };
    }),
    clusters: rt
      ? [...rt.clusters.values()].map((c) => ({
          name: c.name,
          service: c.service,
          protocol: c.protocol,
          lb: c.spec.lb,
          endpoints: c.endpoints.map((e) => ({ address: e.address, port: e.port, inflight: e.inflight, requests: e.requests, failures: e.failures, latencyMs: Math.round(e.latencyMs() * 1000) / 1000 })),
        }))
      : [],
    totals: {
      requests: t.http.requests_total.total(),
      proxyErrors: t.http.proxy_errors_total.total(),
      tcpConnections: t.tcp.tcp_connections_total.total(),
      accessLogDropped: t.accessLog.dropped,
      endpoints: [...registry.all()].length,
    },
  };
}
