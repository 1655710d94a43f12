// RFC 9113 §8.2: the header and trailer fields that make an HTTP/2 message
// malformed. Checked on every head and trailer section the engine receives,
// before the proxy sees it: the next hop may be HTTP/1.1, where a CR LF in a
// value or a space in a name would split one field into two (request
// smuggling, header injection). node:http2 (nghttp2) refuses the same.

export const REQUEST_PSEUDO: ReadonlySet<string> = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);
export const RESPONSE_PSEUDO: ReadonlySet<string> = new Set([':status']);
export const NO_PSEUDO: ReadonlySet<string> = new Set();

// Connection-specific fields (§8.2.2); `te` is allowed with the value "trailers" only.
export const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

// tchar (RFC 9110 §5.6.2) without uppercase letters: HTTP/2 names are lowercase.
const NAME_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_CHAR[c.charCodeAt(0)] = 1;

function validName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 127 || NAME_CHAR[c] === 0) return false;
  }
  return true;
}

/** No NUL, CR or LF; no whitespace at either end (§8.2.1). */
function validValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  let c = value.charCodeAt(0);
  if (c === 32 || c === 9) return false;
  c = value.charCodeAt(n - 1);
  if (c === 32 || c === 9) return false;
  for (let i = 0; i < n; i++) {
    c = value.charCodeAt(i);
    if (c === 0 || c === 10 || c === 13) return false;
  }
  return true;
}

/** Whether a decoded field list is well-formed: only `pseudo` pseudo-headers, each once and before every other field. */
export function validFields(list: readonly string[], pseudo: ReadonlySet<string>): boolean {
  let regular = false;
  let seen: string[] | undefined;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    const value = list[i + 1]!;
    if (!validValue(value)) return false;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (regular || !pseudo.has(name)) return false;
      if (seen?.includes(name)) return false;
      (seen ??= []).push(name);
      continue;
    }
    regular = true;
    if (!validName(name) || CONNECTION_SPECIFIC.has(name)) return false;
    if (name === 'te' && value !== 'trailers') return false;
  }
  return true;
}
