// `meshctl stat [service]`: the numbers `top` shows, once, as plain tables (or
// JSON): every service and edge, or one service with its routes and the
// edges into and out of it.
import { ControllerClient } from '../controller-client.ts';
import { MeshError } from '../../shared/errors.ts';
import { controllerSource, fetchMeshData, type MeshData } from './fetch-mesh-data.ts';
import { formatPlainTable } from './table-model.ts';
import { edgesTable, routesTable, servicesTable } from './view-tables.ts';

export type StatOptions = { controller?: string; token?: string; json?: boolean };

export async function runStat(service: string | undefined, opts: StatOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const client = await ControllerClient.connect({ url: opts.controller, token: opts.token });
  const data = await fetchMeshData(controllerSource(client));
  const view = service ? only(data, service) : data;
  const m = view.metrics;
  if (opts.json) {
    out.write(JSON.stringify({ at: m.at, services: m.services, edges: m.edges, routes: m.routes ?? [], scrapeErrors: m.scrapeErrors }, null, 2) + '\n');
    return;
  }
  const width = (out as NodeJS.WriteStream).columns || Number(process.env.COLUMNS) || Infinity;
  const sections = [formatPlainTable(servicesTable(view), width), formatPlainTable(edgesTable(view), width)];
  if (service) sections.push(formatPlainTable(routesTable(view, service), width));
  if (m.scrapeErrors.length) sections.push(`warning: ${m.scrapeErrors.length} proxies not scraped:\n  ${m.scrapeErrors.join('\n  ')}\n`);
  if (data.health.discovery.stale) sections.push(`warning: discovery is stale (${data.health.discovery.error ?? 'no recent event'}); figures may be out of date\n`);
  out.write(sections.join('\n'));
}

/** The data narrowed to one service: its own row, its routes, and the edges that touch it. */
function only(data: MeshData, service: string): MeshData {
  const known = new Set([...data.services.map((s) => s.name), ...data.metrics.services.map((s) => s.service)]);
  if (!known.has(service)) {
    throw new MeshError('MESH_ERR_USAGE', `no service named "${service}"`, `run \`meshctl stat\` to list them (${[...known].sort().join(', ') || 'none yet'})`);
  }
  const m = data.metrics;
  return {
    ...data,
    services: data.services.filter((s) => s.name === service),
    metrics: {
      ...m,
      services: m.services.filter((s) => s.service === service),
      edges: m.edges.filter((e) => e.source === service || e.destination === service),
      ...(m.routes ? { routes: m.routes.filter((r) => r.service === service) } : {}),
    },
  };
}
