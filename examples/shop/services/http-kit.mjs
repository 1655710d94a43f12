// Shared by the shop's services: a JSON HTTP server with one log line per
// request, and a JSON client. node: built-ins only, so the services run on
// the mesh image (or any Node 24 image) with no npm install. Like any app
// traced through a mesh, they forward the trace context of the request they
// serve to the calls it causes; the mesh needs nothing else to carry a canary
// test header (x-canary) along the whole request path.
import http from 'node:http';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { AsyncLocalStorage } from 'node:async_hooks';

export const replica = hostname();

const TRACE_HEADERS = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'];
const inbound = new AsyncLocalStorage();

/** Trace headers for an outbound call made while serving a request: same trace, this hop as the parent span. */
function traceHeaders() {
  const from = inbound.getStore();
  if (!from) return {};
  const out = {};
  for (const name of TRACE_HEADERS) if (typeof from[name] === 'string') out[name] = from[name];
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(out.traceparent ?? '');
  if (m) out.traceparent = `${m[1]}-${m[2]}-${randomBytes(8).toString('hex')}-${m[3]}`;
  return out;
}

/** Starts `name` on $PORT (default 8080); routes: { 'GET /path': async (req, body, url) => [status, json] }. */
export function serve(name, routes) {
  const port = Number(process.env.PORT ?? 8080);
  const server = http.createServer(async (req, res) => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://x');
    let raw = '';
    for await (const chunk of req) raw += chunk;
    let status = 500;
    let body;
    try {
      const route = routes[`${req.method} ${url.pathname}`] ?? routes[`* ${url.pathname}`];
      if (!route) [status, body] = [404, { error: `${name}: no route ${req.method} ${url.pathname}` }];
      else [status, body] = await inbound.run(req.headers, () => route(req, raw ? JSON.parse(raw) : undefined, url));
    } catch (err) {
      [status, body] = [502, { error: `${name}: ${err.message}` }];
    }
    res.writeHead(status, { 'content-type': 'application/json', 'x-served-by': `${name}/${replica}` });
    res.end(JSON.stringify(body));
    console.log(`${name} ${req.method} ${url.pathname}${url.search} -> ${status} ${Date.now() - started}ms`);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, () => console.log(`${name} listening on :${port} (replica ${replica})`));
  // Compose stops with SIGTERM: finish what is in flight, then exit.
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
  return server;
}

/** Calls another service by its plain name (http://payment:8080): the mesh carries it. */
export async function call(method, url, body, headers = {}) {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...traceHeaders(), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { raw: text };
  }
  return { status: res.status, body: json, servedBy: res.headers.get('x-served-by') };
}
