// The controller's HTTP surface: the push channel for proxies and the API the
// CLI uses. Bodies and responses are checked with the schemas in shared/api.ts;
// a malformed body gets 400 with the reason. Everything but /v1/health needs
// the bearer token. Plain HTTP, or HTTPS when given key and certificate. The
// mTLS listener for sidecars (push-server.ts) serves only the push routes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import { sameSecret } from '../../shared/same-secret.ts';
import type { z } from 'zod';
import {
  AckMessage,
  HealthResponse,
  MetricsResponse,
  OverridePut,
  Overrides,
  ProxiesResponse,
  ServicesResponse,
  SubscribeQuery,
} from '../../shared/api.ts';
import type { ControllerCore } from '../controller-core.ts';
import { CanaryList, CanaryStart, CanaryStatus, CanaryWeightPut } from '../../shared/canary.ts';
import { MeshError } from '../../shared/errors.ts';
import { certsRoutes, type CertsApi } from './certs-routes.ts';
import { tapRoute } from './tap-route.ts';
import { formatIssues } from '../../shared/snapshot.ts';
import { controllerMetricsText } from '../metrics/controller-metrics-text.ts';
import { prometheusTargets } from '../metrics/prometheus-targets.ts';

const MAX_BODY = 1 << 20;

export function createApiServer(core: ControllerCore, token: string, tls?: HttpsOptions, certs?: CertsApi): Server {
  const authorized = (req: IncomingMessage) => sameSecret(req.headers.authorization, `Bearer ${token}`);
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(core, req, res, authorized, certs).catch((err) => send(res, 500, { error: (err as Error).message }));
  };
  return tls ? createHttpsServer(tls, listener) : createServer(listener);
}

async function handle(core: ControllerCore, req: IncomingMessage, res: ServerResponse, authorized: (r: IncomingMessage) => boolean, certs?: CertsApi) {
  const url = new URL(req.url ?? '/', 'http://controller');
  const route = `${req.method} ${url.pathname}`;
  if (route === 'GET /v1/health') return reply(res, HealthResponse, core.health());
  // Prometheus text, unauthenticated like the proxies' admin /metrics on the same network: figures, no secrets.
  if (route === 'GET /metrics') return sendMetricsText(res, core, certs);
  // Prometheus http_sd: the sidecars' admin addresses, unauthenticated for the same reason.
  if (route === 'GET /v1/metrics/targets') return send(res, 200, prometheusTargets(core.hub.adminTargets()));
  // The sign route authenticates by service token too, so it comes before the bearer check.
  if (certs && route === 'POST /v1/certs/sign' && (await certsRoutes(certs, req, res, authorized(req), send))) return;
  if (!authorized(req)) return send(res, 401, { error: 'missing or wrong bearer token', code: 'unauthorized' });
  if (certs && (route === 'GET /v1/certs' || route === 'POST /v1/certs/rotate') && (await certsRoutes(certs, req, res, true, send))) return;

  switch (route) {
    case 'GET /v1/push/subscribe': {
      const q = SubscribeQuery.safeParse(Object.fromEntries(url.searchParams));
      if (!q.success) return bad(res, q.error);
      req.socket.setKeepAlive(true, 10_000);
      return core.hub.subscribe(q.data, res, req.socket.remoteAddress ?? '127.0.0.1');
    }
    case 'POST /v1/push/ack': {
      const body = await readJson(req, res, AckMessage);
      if (!body) return;
      core.hub.ack(body);
      return send(res, 204);
    }
    case 'GET /v1/services':
      return reply(res, ServicesResponse, core.services());
    case 'GET /v1/proxies':
      return reply(res, ProxiesResponse, { proxies: core.hub.status() });
    case 'GET /v1/metrics':
      return reply(res, MetricsResponse, core.metrics());
    case 'GET /v1/overrides':
      return reply(res, Overrides, core.overrides.get());
    case 'PUT /v1/overrides': {
      const body = await readJson(req, res, OverridePut);
      if (!body) return;
      try {
        return reply(res, Overrides, core.putOverride(body));
      } catch (err) {
        if (err instanceof MeshError) return send(res, 400, { error: err.message, code: err.code });
        throw err;
      }
    }
    case 'DELETE /v1/overrides':
      return reply(res, Overrides, core.clearOverride(url.searchParams.get('service') ?? undefined));
  }
  if (url.pathname === '/v1/canary' || url.pathname.startsWith('/v1/canary/')) return canary(core, req, res, url.pathname);
  if (req.method === 'GET' && url.pathname.startsWith('/v1/tap/')) return tapRoute(core, req, res, url, certs?.tokens);
  if (req.method === 'GET' && url.pathname.startsWith('/v1/snapshots/')) {
    const snap = core.snapshotFor(decodeURIComponent(url.pathname.slice('/v1/snapshots/'.length)));
    return snap ? send(res, 200, snap) : send(res, 404, { error: 'no snapshot for that proxy id' });
  }
  return send(res, 404, { error: `no route ${route}` });
}

/** /v1/canary[/<service>[/<action>]]: rollouts. MeshError codes map to 404 / 409 / 400. */
async function canary(core: ControllerCore, req: IncomingMessage, res: ServerResponse, path: string) {
  const [service, action] = path.slice('/v1/canary'.length).split('/').filter(Boolean).map(decodeURIComponent);
  const route = `${req.method} ${action ?? (service ? ':service' : '')}`;
  try {
    switch (route) {
      case 'GET ':
        return reply(res, CanaryList, { rollouts: core.canary.list() });
      case 'POST ': {
        const body = await readJson(req, res, CanaryStart);
        if (!body) return;
        return reply(res, CanaryStatus, core.canary.begin(body));
      }
      case 'GET :service':
        return reply(res, CanaryStatus, core.canary.get(service!));
      case 'POST promote':
        return reply(res, CanaryStatus, core.canary.promote(service!));
      case 'POST abort':
        return reply(res, CanaryStatus, core.canary.abort(service!));
      case 'POST pause':
        return reply(res, CanaryStatus, core.canary.pause(service!));
      case 'POST resume':
        return reply(res, CanaryStatus, core.canary.resume(service!));
      case 'PUT weight': {
        const body = await readJson(req, res, CanaryWeightPut);
        if (!body) return;
        return reply(res, CanaryStatus, core.canary.setWeight(service!, body.weight));
      }
    }
  } catch (err) {
    if (!(err instanceof MeshError)) throw err;
    const status = err.code === 'MESH_ERR_NOT_FOUND' ? 404 : err.code === 'MESH_ERR_CONFLICT' ? 409 : 400;
    return send(res, status, { error: `${err.message} (${err.hint})`, code: err.code });
  }
  return send(res, 404, { error: `no route ${req.method} ${path}` });
}

function sendMetricsText(res: ServerResponse, core: ControllerCore, certs?: CertsApi) {
  const text = controllerMetricsText({
    proxies: core.hub.status(),
    health: core.health(),
    aggregate: core.metrics(),
    latest: core.latestScrapes(),
    leaves: certs?.ca.leaves(),
  });
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
}

function reply<T extends z.ZodType>(res: ServerResponse, schema: T, body: z.input<T>) {
  // Validate what we send too: a bug shows up here, not as a confusing CLI error.
  const r = schema.safeParse(body);
  if (!r.success) return send(res, 500, { error: `response failed its schema: ${formatIssues(r.error)}` });
  return send(res, 200, r.data);
}

export function bad(res: ServerResponse, error: z.ZodError) {
  const reason = formatIssues(error, '(body)');
  return send(res, 400, { error: reason, code: 'bad_request' });
}

export function send(res: ServerResponse, status: number, body?: unknown) {
  if (res.headersSent) return void res.end();
  if (body === undefined) return void res.writeHead(status).end();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

export async function readJson<T extends z.ZodType>(req: IncomingMessage, res: ServerResponse, schema: T): Promise<z.infer<T> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) {
      send(res, 413, { error: `body larger than ${MAX_BODY} bytes` });
      return undefined;
    }
    chunks.push(c as Buffer);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    send(res, 400, { error: `body is not JSON: ${(err as Error).message}`, code: 'bad_request' });
    return undefined;
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    bad(res, r.error);
    return undefined;
  }
  return r.data;
}
