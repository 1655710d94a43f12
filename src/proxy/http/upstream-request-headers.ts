// Builds the headers sent upstream from the downstream request: original case
// and order kept (rawHeaders), hop-by-hop removed, x-forwarded-* and
// Forwarded appended, headers added by filters last.
import { HOP_BY_HOP, connectionTokens } from './hop-by-hop.ts';
import type { Exchange } from './exchange.ts';

// Lengths of the names the loop acts on (hop-by-hop, Host, the forwarding headers, the peer identity):
// a name of another length that does not start with "p" (proxy-*) is copied without being lowercased.
const WATCHED_LENGTH = new Uint8Array(64);
for (const n of [...HOP_BY_HOP, 'host', 'x-forwarded-for', 'forwarded', 'x-forwarded-proto', 'x-forwarded-host', 'x-mesh-peer-identity']) WATCHED_LENGTH[n.length] = 1;

function forwardedFor(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

/**
 * Flat [name, value, ...] list for an HTTP/1.1 upstream. `keepUpgrade` keeps
 * Connection: upgrade and Upgrade for an Upgrade request forwarded raw.
 */
export function upstreamRequestHeaders(ex: Exchange, keepUpgrade: boolean): string[] {
  const req = ex.req;
  const raw = req.rawHeaders;
  const named = connectionTokens(req.headers.connection);
  const out: string[] = [];
  let xff: string | undefined;
  let fwd: string | undefined;
  let hasProto = false;
  let hasXHost = false;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const c0 = name.charCodeAt(0);
    if (c0 === 58 /* : */) {
      if (name === ':authority') host ??= value;
      continue;
    }
    if (named === undefined && WATCHED_LENGTH[name.length] !== 1 && c0 !== 112 /* p */ && c0 !== 80 /* P */) {
      out.push(name, value);
      continue;
    }
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'te' && value.toLowerCase().includes('trailers')) out.push(name, 'trailers');
      else if (keepUpgrade && (lower === 'upgrade' || lower === 'connection')) out.push(name, lower === 'connection' ? 'Upgrade' : value);
      continue;
    }
    if (named !== undefined && named.has(lower)) continue;
    // Proxy-* headers address the proxy itself (Proxy-Connection, Proxy-Authorization, ...).
    if (lower.charCodeAt(0) === 112 /* p */ && lower.startsWith('proxy-')) continue;
    switch (lower) {
      case 'host':
        if (host !== undefined) continue; // duplicate Host: keep the first
        host = value;
        break;
      case 'x-forwarded-for':
        xff = xff === undefined ? value : `${xff}, ${value}`;
        continue;
      case 'forwarded':
        fwd = fwd === undefined ? value : `${fwd}, ${value}`;
        continue;
      case 'x-forwarded-proto':
        hasProto = true;
        break;
      case 'x-forwarded-host':
        hasXHost = true;
        break;
      case 'x-mesh-peer-identity':
        continue; // only the proxy says who called, from the verified certificate (authz-filter.ts)
    }
    out.push(name, value);
  }
  if (host !== undefined && ex.http2) out.push('host', host);
  const ip = req.socket?.remoteAddress ?? '';
  const clientIp = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  out.push('x-forwarded-for', xff === undefined ? clientIp : `${xff}, ${clientIp}`);
  if (!hasProto) out.push('x-forwarded-proto', 'http');
  if (!hasXHost && host !== undefined) out.push('x-forwarded-host', host);
  const me = `for=${forwardedFor(clientIp)}${host !== undefined ? `;host="${host}"` : ''};proto=http`;
  out.push('forwarded', fwd === undefined ? me : `${fwd}, ${me}`);
  const extra = ex.extraHeaders;
  for (let i = 0; i < extra.length; i++) out.push(extra[i]!);
  return out;
}

/** The same headers as an HTTP/2 header object: lowercase names, pseudo-headers first. */
export function upstreamRequestHeadersH2(ex: Exchange): Record<string, string | string[]> {
  const flat = upstreamRequestHeaders(ex, false);
  const req = ex.req;
  let authority: string | undefined;
  const h: Record<string, string | string[]> = { ':method': req.method ?? 'GET', ':path': req.url ?? '/', ':scheme': 'http' };
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    const value = flat[i + 1]!;
    if (name === 'host') {
      authority ??= value;
      continue;
    }
    const prev = h[name];
    if (prev === undefined) h[name] = value;
    else if (name === 'cookie') h[name] = `${prev}; ${value}`;
    else h[name] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  if (authority !== undefined) h[':authority'] = authority;
  return h;
}
