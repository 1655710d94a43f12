// GET /v1/tap/<service>?path=&status=&method=: one NDJSON stream of the live
// requests through every sidecar of a service. The controller opens each
// sidecar's admin /tap with the same filter (filtering happens in the proxy),
// tags each line with the proxy's id and fans them in. Sidecars that connect
// later are picked up on the next look (every RESCAN_MS); a failed or ended
// sidecar stream is reported and opened again while the sidecar is connected.
// A slow reader loses lines here (counted, reported), never the controller's memory.
import { request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { TapFilter, TapMessage } from '../../shared/api.ts';
import { BoundedLineWriter } from '../../shared/bounded-line-writer.ts';
import type { ControllerCore } from '../controller-core.ts';
import type { ServiceTokens } from '../certs/service-tokens.ts';
import { formatIssues } from '../../shared/snapshot.ts';

const RESCAN_MS = 1000;
const MAX_TAP_BYTES = 512 * 1024;
const MAX_LINE = 64 * 1024;

type Target = { proxyId: string; url: string };

/** `tokens`: the project's service tokens, sent to each sidecar's /tap (which asks for its own). */
export function tapRoute(core: ControllerCore, req: IncomingMessage, res: ServerResponse, url: URL, tokens?: ServiceTokens): void {
  const service = decodeURIComponent(url.pathname.slice('/v1/tap/'.length));
  const q = TapFilter.safeParse(Object.fromEntries(url.searchParams));
  if (!q.success) return refuse(res, 400, { error: formatIssues(q.error, '(query)'), code: 'bad_request' });
  const known = new Set([...core.services().services.map((s) => s.name), ...core.hub.status().map((p) => p.service)]);
  if (!service || !known.has(service)) {
    return refuse(res, 404, { error: `no service named "${service}" (known: ${[...known].sort().join(', ') || 'none'})`, code: 'not_found' });
  }
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(q.data)) if (v !== undefined) query.set(k, v);

  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  req.socket.setKeepAlive(true, 10_000);
  const out = new BoundedLineWriter(res, MAX_TAP_BYTES, (count) => JSON.stringify({ type: 'dropped', count }) + '\n');
  const say = (m: TapMessage) => out.push(JSON.stringify(m) + '\n');
  const open = new Map<string, ClientRequest>();
  // The last error said per proxy: a sidecar that keeps failing the same way is reported once.
  const lastError = new Map<string, string>();
  let announced: string | undefined;
  let closed = false;

  const connect = (t: Target) => {
    const headers = tokens ? { authorization: `Bearer ${tokens.tokenFor(service)}` } : undefined;
    const up = request(`${t.url}/tap?${query}`, { agent: false, timeout: 5000, headers });
    open.set(t.proxyId, up);
    let failed = false;
    const fail = (error: string) => {
      if (failed || closed) return;
      failed = true;
      open.delete(t.proxyId);
      up.destroy();
      if (lastError.get(t.proxyId) === error) return;
      lastError.set(t.proxyId, error);
      say({ type: 'proxy-error', proxy: t.proxyId, error });
    };
    up.on('timeout', () => fail('no answer from its admin port within 5s'));
    up.on('error', (err) => fail((err as NodeJS.ErrnoException).code ?? err.message));
    up.on('response', (r) => {
      if (r.statusCode !== 200) {
        r.resume();
        return fail(`its admin /tap answered ${r.statusCode}`);
      }
      up.setTimeout(0);
      lastError.delete(t.proxyId);
      r.setEncoding('utf8');
      let buf = '';
      r.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) !== -1) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          forward(t.proxyId, line);
        }
        if (buf.length > MAX_LINE) fail('a tap line longer than 64 KiB');
      });
      r.on('end', () => fail('its tap stream ended'));
      r.on('error', (err) => fail(err.message));
    });
    up.end();
  };

  const forward = (proxyId: string, line: string) => {
    let m: { type?: unknown; proxy?: string };
    try {
      m = JSON.parse(line);
    } catch {
      return;
    }
    if (m.type !== 'request' && m.type !== 'dropped') return;
    m.proxy = proxyId;
    out.push(JSON.stringify(m) + '\n');
  };

  const scan = () => {
    const targets = core.hub.adminTargets().filter((t) => t.service === service);
    for (const t of targets) if (!open.has(t.proxyId)) connect(t);
    const live = new Set(targets.map((t) => t.proxyId));
    for (const [id, up] of open) {
      if (!live.has(id)) {
        open.delete(id);
        up.destroy();
      }
    }
    const ids = [...live].sort().join(',');
    if (ids !== announced) {
      announced = ids;
      say({ type: 'tapping', service, proxies: ids ? ids.split(',') : [] });
    }
  };

  scan();
  const timer = setInterval(scan, RESCAN_MS);
  res.once('close', () => {
    closed = true;
    clearInterval(timer);
    for (const up of open.values()) up.destroy();
    open.clear();
  });
}

function refuse(res: ServerResponse, status: number, body: { error: string; code: string }): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
