// Header lists for the HTTP/2 client side (http2-forwarder.ts) in node:http2's
// raw form, a flat [name, value, ...] array. node:http2 accepts and hands out
// that form as well as header objects (Node >= 24); the object form cost a
// list → object conversion of ours, then node's own object → list and a copy it
// keeps on the stream, per request and again for the response.
import { HOP_BY_HOP, connectionTokens } from '../http/hop-by-hop.ts';
import { upstreamRequestHeaders } from '../http/upstream-request-headers.ts';
import type { Exchange } from '../http/exchange.ts';

/**
 * The upstream request headers with the HTTP/2 pseudo-headers, for
 * `session.request(list)`. Names keep their case: node:http2 lowercases and
 * validates each one while encoding, and puts the pseudo-headers first.
 * Repeated names stay separate fields, except Cookie, joined with "; " as the
 * header object did (the next sidecar forwards it to an HTTP/1.1 app, which
 * must get one Cookie line).
 */
export function upstreamRequestHeadersH2List(ex: Exchange): string[] {
  let list = upstreamRequestHeaders(ex, false);
  let cookie = -1;
  let cookies = 0;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    // Host becomes :authority; upstreamRequestHeaders keeps at most one.
    if (name.length === 4 && name.toLowerCase() === 'host') list[i] = ':authority';
    else if (name.length === 6 && name.toLowerCase() === 'cookie') {
      if (cookie === -1) cookie = i;
      cookies++;
    }
  }
  if (cookies > 1) list = joinCookies(list, cookie);
  const req = ex.req;
  list.push(':method', req.method ?? 'GET', ':path', req.url ?? '/', ':scheme', 'http');
  return list;
}

/** The list with every Cookie field folded into the first one (a rare case: a copy is fine). */
function joinCookies(list: string[], first: number): string[] {
  const out = list.slice(0, first + 2);
  for (let i = first + 2; i < list.length; i += 2) {
    const name = list[i]!;
    if (name.length === 6 && name.toLowerCase() === 'cookie') out[first + 1] += `; ${list[i + 1]!}`;
    else out.push(name, list[i + 1]!);
  }
  return out;
}

/**
 * Flat [name, value, ...] for an HTTP/1.1 client from an HTTP/2 response's
 * raw headers (lowercase names): pseudo-headers and hop-by-hop removed, repeated
 * fields kept as separate lines. `connection` is the parsed Connection value.
 */
export function responseHeadersH1FromList(raw: readonly string[], connection: string | string[] | undefined): string[] {
  const named = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 58 /* : */ || HOP_BY_HOP.has(name) || (named !== undefined && named.has(name))) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}
