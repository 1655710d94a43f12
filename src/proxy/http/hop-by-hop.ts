// Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and
// must not be forwarded. Names listed in Connection are hop-by-hop too.

export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'transfer-encoding',
  'upgrade',
  // Answered by this proxy (Node sends 100 Continue), so not forwarded.
  'expect',
  // HTTP/2 forbids it; HTTP/1 upstreams get their own Host from the request.
  'http2-settings',
]);

/** Lowercase tokens named by a Connection header value (other than close/keep-alive/upgrade). */
export function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (!value) return undefined;
  if (typeof value === 'string' && value.indexOf(',') === -1) {
    // One token, nearly always keep-alive or close: no split, and no allocation when already lowercase.
    const tok = value.trim().toLowerCase();
    return tok === '' || tok === 'close' || tok === 'keep-alive' || tok === 'upgrade' ? undefined : new Set([tok]);
  }
  const v = Array.isArray(value) ? value.join(',') : value;
  let out: Set<string> | undefined;
  for (const t of v.split(',')) {
    const tok = t.trim().toLowerCase();
    if (tok === '' || tok === 'close' || tok === 'keep-alive' || tok === 'upgrade') continue;
    (out ??= new Set()).add(tok);
  }
  return out;
}
