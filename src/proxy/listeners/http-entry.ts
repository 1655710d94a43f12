// Where an HTTP request enters the request path: look up the live listener,
// match a route, run its filter chain; record telemetry when the response closes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyState } from '../runtime/proxy-state.ts';
import { Exchange, type DownstreamRequest, type DownstreamResponse } from '../http/exchange.ts';
import { normalizeHost } from '../routing/route-table.ts';
import { sendProxyError } from '../http/send-proxy-error.ts';

const EXCHANGE = Symbol('mesh.exchange');
type WithExchange = { [EXCHANGE]?: Exchange };

function onResponseClose(this: DownstreamResponse): void {
  const ex = (this as unknown as WithExchange)[EXCHANGE];
  if (ex === undefined) return; // a second 'close' (listened with on(), not once())
  (this as unknown as WithExchange)[EXCHANGE] = undefined;
  // Not ended by the proxy means the client left first (HTTP/2 compat responses
  // do not report writableFinished reliably after a stream reset).
  complete(ex, !ex.ended);
}

function complete(ex: Exchange, aborted: boolean): void {
  if (ex.done) return;
  ex.done = true;
  if (aborted) {
    // The client went away mid-exchange: cancel upstream so no connection stays stuck.
    ex.upstream?.abort();
    ex.error ??= 'downstream-reset client closed before the response completed';
    if (ex.status === 0) ex.status = 499;
  }
  ex.telemetry!.recordHttp(ex);
}

function route(ex: Exchange): void {
  const req = ex.req;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  ex.path = q === -1 ? url : url.slice(0, q);
  ex.host = normalizeHost(ex.http2 ? ((req.headers[':authority'] as string | undefined) ?? req.headers.host) : req.headers.host);
  const r = ex.listener.routes.match(ex.host, ex.path, req.method ?? 'GET', req.headers as Record<string, string | string[] | undefined>);
  if (r === undefined) {
    sendProxyError(ex, 'no-route', `${ex.listener.name} ${ex.host}${ex.path}`);
    return;
  }
  ex.route = r;
  r.handler(ex);
}

/** A request handler for one listener name, shared by its HTTP/1 and HTTP/2 servers. */
export function httpEntry(state: ProxyState, listenerName: string): (req: DownstreamRequest, res: DownstreamResponse) => void {
  return (req, res) => {
    const listener = state.runtime?.listeners.get(listenerName);
    if (listener === undefined) {
      (res as ServerResponse).writeHead(503, { 'x-mesh-error': `no-listener ${listenerName}`, 'content-type': 'text/plain' });
      res.end(`no-listener ${listenerName}\n`);
      return;
    }
    // Upstream headers and dates pass through as the upstream sent them.
    (res as ServerResponse).sendDate = false;
    const ex = new Exchange(listener, req, res);
    ex.telemetry = state.telemetry;
    (res as unknown as WithExchange)[EXCHANGE] = ex;
    res.on('close', onResponseClose); // emitted once; on() spares once()'s wrapper per request
    route(ex);
  };
}

/** Upgrade requests (HTTP/1.1 only): routed the same way, then piped raw. */
export function upgradeEntry(state: ProxyState, listenerName: string): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const listener = state.runtime?.listeners.get(listenerName);
    if (listener === undefined) {
      socket.destroy();
      return;
    }
    const ex = new Exchange(listener, req, undefined, socket, head);
    ex.telemetry = state.telemetry;
    socket.once('close', () => complete(ex, false));
    route(ex);
  };
}
