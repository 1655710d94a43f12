// Fixed controller data for the dashboard tests: three services (one with a
// canary split), two edges (one mTLS, one plaintext), routes, proxies in and
// out of sync, and the leaves the CA issued them.
import type { MeshData, MeshDataSource } from '../../../src/cli/ui/fetch-mesh-data.ts';

export const AT = Date.UTC(2026, 0, 2, 3, 4, 5);

const fig = (rps: number, successRate: number | null, p50: number | null, p95: number | null, p99: number | null, retries = 0, conns = 0) => ({
  rps,
  successRate,
  p50Ms: p50,
  p95Ms: p95,
  p99Ms: p99,
  retries,
  activeConnections: conns,
});

const HOUR = 3_600_000;
const leaf = (service: string, serial: string, fromH: number, toH: number) => ({
  service,
  spiffeId: `spiffe://mesh.local/compose/shop/svc/${service}`,
  serial,
  notBefore: new Date(AT + fromH * HOUR).toISOString(),
  notAfter: new Date(AT + toH * HOUR).toISOString(),
  issuer: 'mesh root',
});

export function meshData(over: Partial<MeshData> = {}): MeshData {
  return {
    at: AT,
    metrics: {
      at: AT,
      services: [
        { service: 'checkout-frontend', ...fig(42.5, 0.999, 3, 9, 14, 0.2, 7) },
        { service: 'payments', ...fig(12, 0.9, 20, 300, 1200, 1.5, 3) },
        { service: 'inventory', ...fig(80, 0.97, 2, 4, 600, 0, 11) },
      ],
      edges: [
        { source: 'checkout-frontend', destination: 'payments', ...fig(12, 0.9, 20, 300, 1200, 1.5, 2), mtls: 'mtls' },
        { source: 'checkout-frontend', destination: 'inventory', ...fig(80, 0.97, 2, 4, 600, 0, 4), mtls: 'plaintext' },
      ],
      routes: [
        { service: 'payments', route: 'charge', ...fig(10, 0.88, 22, 310, 1300) },
        { service: 'payments', route: 'refund', ...fig(2, 1, 5, 8, 9) },
        { service: 'inventory', route: 'in:inventory:8080:default', ...fig(80, 0.97, 2, 4, 600) },
      ],
      scrapeErrors: [],
    },
    proxies: [
      { proxyId: 'checkout-frontend-mesh', service: 'checkout-frontend', connected: true, desired: { version: 7, hash: 'a' }, ack: { ok: true, version: 7, hash: 'a', ageMs: 100 }, inSync: true, lastSyncAgeMs: 4000 },
      { proxyId: 'payments-mesh', service: 'payments', connected: true, desired: { version: 9, hash: 'b' }, ack: { ok: true, version: 8, hash: 'c', ageMs: 100 }, inSync: false, lastSyncAgeMs: 45_000 },
    ],
    health: { ok: true, project: 'shop', discovery: { kind: 'docker', stale: false, lastEventAgeMs: 1000 }, buildErrors: [], proxies: 2 },
    overrides: { services: { payments: { weights: { v1: 90, v2: 10 } } } },
    certs: {
      trustDomain: 'mesh.local',
      roots: [],
      // checkout-frontend-mesh: its own leaf (by proxy id), 20 h of 24 h left. payments: only the service's latest, 2 h left.
      services: [leaf('checkout-frontend', 'aa', -4, 20), leaf('payments', 'bb', -22, 2)],
      leaves: [{ ...leaf('checkout-frontend', 'aa', -4, 20), proxyId: 'checkout-frontend-mesh' }],
    },
    services: [
      { name: 'checkout-frontend', versions: ['v1'], ports: [8080], endpoints: [] },
      { name: 'inventory', versions: ['v1'], ports: [8080], endpoints: [] },
      { name: 'payments', versions: ['v1', 'v2'], ports: [8080], endpoints: [] },
    ],
    ...over,
  };
}

/** A data source answering from a function, so a test can make the controller "go away" and come back. */
export function fixedSource(get: () => MeshData | Error, url = 'http://127.0.0.1:15010'): MeshDataSource & { calls: number } {
  const src = {
    url,
    calls: 0,
    async metrics() {
      src.calls++;
      const d = get();
      if (d instanceof Error) throw d;
      return d.metrics;
    },
    async proxies() {
      const d = get();
      if (d instanceof Error) throw d;
      return { proxies: d.proxies };
    },
    async health() {
      const d = get();
      if (d instanceof Error) throw d;
      return d.health;
    },
    async overrides() {
      const d = get();
      if (d instanceof Error) throw d;
      return d.overrides;
    },
    async services() {
      const d = get();
      if (d instanceof Error) throw d;
      return { services: d.services };
    },
  };
  return src;
}
