// Prometheus HTTP service discovery (http_sd_configs) from the controller:
// every connected sidecar's admin address, so a Prometheus in the project
// scrapes each replica (scaled sidecars and canary containers included)
// without a static list. Labels say which service and proxy a target is.

export type AdminTarget = { proxyId: string; service: string; url: string };

export function prometheusTargets(targets: AdminTarget[]): { targets: string[]; labels: Record<string, string> }[] {
  return targets.map((t) => ({ targets: [new URL(t.url).host], labels: { mesh_service: t.service, mesh_proxy_id: t.proxyId } }));
}
