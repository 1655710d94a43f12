// One round of everything the dashboard shows, fetched from the controller in
// parallel. Overrides, services and certificates only decorate the view
// (canary weights, versions, certificate expiry), so their failure does not
// hide the figures.
import type { HealthResponse, MetricsResponse, Overrides, ProxiesResponse, ServicesResponse } from '../../shared/api.ts';
import { CertsResponse } from '../../shared/identity.ts';
import type { ControllerClient } from '../controller-client.ts';

export type MeshData = {
  /** When this round completed (ms since epoch). */
  at: number;
  metrics: MetricsResponse;
  proxies: ProxiesResponse['proxies'];
  health: HealthResponse;
  overrides: Overrides;
  services: ServicesResponse['services'];
  /** The leaves the mesh CA issued (absent: no CA, or an older controller). */
  certs?: CertsResponse;
};

/** The part of ControllerClient the dashboard needs (a test can hand in fixed data). */
export type MeshDataSource = {
  readonly url: string;
  metrics(): Promise<MetricsResponse>;
  proxies(): Promise<ProxiesResponse>;
  health(): Promise<HealthResponse>;
  overrides(): Promise<Overrides>;
  services(): Promise<ServicesResponse>;
  certs?(): Promise<CertsResponse>;
};

/** The controller client as a data source, with GET /v1/certs (the client has no method of its own for it). */
export function controllerSource(client: ControllerClient): MeshDataSource {
  return {
    url: client.url,
    metrics: () => client.metrics(),
    proxies: () => client.proxies(),
    health: () => client.health(),
    overrides: () => client.overrides(),
    services: () => client.services(),
    certs: () => client.call('GET', '/v1/certs', CertsResponse),
  };
}

export async function fetchMeshData(source: MeshDataSource, now: () => number = Date.now): Promise<MeshData> {
  const [metrics, proxies, health, overrides, services, certs] = await Promise.all([
    source.metrics(),
    source.proxies(),
    source.health(),
    source.overrides().catch(() => ({ services: {} })),
    source.services().catch(() => ({ services: [] })),
    source.certs?.().catch(() => undefined),
  ]);
  return { at: now(), metrics, proxies: proxies.proxies, health, overrides, services: services.services, ...(certs ? { certs } : {}) };
}
