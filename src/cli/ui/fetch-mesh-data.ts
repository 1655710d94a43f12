// One round of everything the dashboard shows, fetched from the controller in
// parallel. Overrides and services only decorate the view (canary weights,
// versions), so their failure does not hide the figures.
import type { HealthResponse, MetricsResponse, Overrides, ProxiesResponse, ServicesResponse } from '../../shared/api.ts';

export type MeshData = {
  /** When this round completed (ms since epoch). */
  at: number;
  metrics: MetricsResponse;
  proxies: ProxiesResponse['proxies'];
  health: HealthResponse;
  overrides: Overrides;
  services: ServicesResponse['services'];
};

/** The part of ControllerClient the dashboard needs (a test can hand in fixed data). */
export type MeshDataSource = {
  readonly url: string;
  metrics(): Promise<MetricsResponse>;
  proxies(): Promise<ProxiesResponse>;
  health(): Promise<HealthResponse>;
  overrides(): Promise<Overrides>;
  services(): Promise<ServicesResponse>;
};

export async function fetchMeshData(source: MeshDataSource, now: () => number = Date.now): Promise<MeshData> {
  const [metrics, proxies, health, overrides, services] = await Promise.all([
    source.metrics(),
    source.proxies(),
    source.health(),
    source.overrides().catch(() => ({ services: {} })),
    source.services().catch(() => ({ services: [] })),
  ]);
  return { at: now(), metrics, proxies: proxies.proxies, health, overrides, services: services.services };
}
