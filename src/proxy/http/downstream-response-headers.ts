// Upstream response headers made ready for the client: hop-by-hop removed;
// for HTTP/1 clients the upstream's header case and order are kept. Each name
// and value is decoded once, and a name is lowercased only when its length is
// that of a hop-by-hop name (or the Connection header names others).
import { HOP_BY_HOP, connectionTokens } from './hop-by-hop.ts';

type HeaderObject = Record<string, string | string[] | number | undefined>;

// HOP_BY_HOP_LENGTH[n] is 1 when some hop-by-hop name has n characters.
const HOP_BY_HOP_LENGTH = new Uint8Array(64);
for (const n of HOP_BY_HOP) HOP_BY_HOP_LENGTH[n.length] = 1;

function dropped(name: string, named: Set<string> | undefined): boolean {
  if (named === undefined) return HOP_BY_HOP_LENGTH[name.length] === 1 && HOP_BY_HOP.has(name.toLowerCase());
  const lower = name.toLowerCase();
  return HOP_BY_HOP.has(lower) || named.has(lower);
}

/**
 * Flat [name, value, ...] (strings) for an HTTP/1.1 client, from an HTTP/1
 * upstream's raw header buffers. `connection` is the parsed Connection value
 * (undici hands both), so the raw list is walked once.
 */
export function responseHeadersH1(raw: readonly (Buffer | string)[], connection: string | string[] | undefined): string[] {
  const named = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    const name = typeof n === 'string' ? n : n.toString('latin1');
    if (dropped(name, named)) continue;
    const v = raw[i + 1]!;
    out.push(name, typeof v === 'string' ? v : v.toString('latin1'));
  }
  return out;
}

/** Flat [name, value, ...] for an HTTP/1.1 client from a node:http2 upstream's response object (names are lowercase there). */
export function responseHeadersH1FromObject(headers: HeaderObject): string[] {
  const named = connectionTokens(headers.connection as string | string[] | undefined);
  const out: string[] = [];
  for (const k in headers) {
    if (k.charCodeAt(0) === 58 || HOP_BY_HOP.has(k) || (named !== undefined && named.has(k))) continue;
    const v = headers[k];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push(k, x);
    else out.push(k, typeof v === 'number' ? String(v) : v);
  }
  return out;
}
