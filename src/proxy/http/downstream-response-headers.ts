// Upstream response headers made ready for the client: hop-by-hop removed;
// for HTTP/1 clients the upstream's header case and order are kept.
import { HOP_BY_HOP, connectionTokens } from './hop-by-hop.ts';

function tokensFromRaw(raw: readonly (Buffer | string)[]): Set<string> | undefined {
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!.toString();
    if (n.length === 10 && n.toLowerCase() === 'connection') value = value ? `${value},${raw[i + 1]!.toString()}` : raw[i + 1]!.toString();
  }
  return connectionTokens(value);
}

/** Flat [name, value, ...] (strings) for an HTTP/1.1 client. */
export function responseHeadersH1(raw: readonly (Buffer | string)[]): string[] {
  const named = tokensFromRaw(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (named !== undefined && named.has(lower))) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  return out;
}

/** Header object for an HTTP/2 client (lowercase names, connection-specific headers removed). */
export function responseHeadersH2(raw: readonly (Buffer | string)[]): Record<string, string | string[]> {
  const named = tokensFromRaw(raw);
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toString('latin1').toLowerCase();
    if (lower.charCodeAt(0) === 58 || HOP_BY_HOP.has(lower) || (named !== undefined && named.has(lower))) continue;
    const value = raw[i + 1]!.toString('latin1');
    const prev = out[lower];
    if (prev === undefined) out[lower] = value;
    else out[lower] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

/** An HTTP/2 header object (from a node:http2 upstream) as a flat raw list. */
export function h2ObjectToRaw(headers: Record<string, string | string[] | number | undefined>): string[] {
  const out: string[] = [];
  for (const k of Object.keys(headers)) {
    if (k.charCodeAt(0) === 58) continue;
    const v = headers[k];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push(k, x);
    else out.push(k, String(v));
  }
  return out;
}
