// The header lists the proxy hands node:http2 when it forwards to a peer
// sidecar (src/proxy/clusters/h2-headers.ts): raw [name, value, ...] arrays,
// no header objects in between.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { responseHeadersH1FromList, upstreamRequestHeadersH2List } from '../../../src/proxy/clusters/h2-headers.ts';
import type { Exchange } from '../../../src/proxy/http/exchange.ts';

function exchange(rawHeaders: string[], opts: { http2?: boolean; method?: string; url?: string; extra?: string[] } = {}): Exchange {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] ??= rawHeaders[i + 1]!;
  return {
    http2: opts.http2 ?? false,
    extraHeaders: opts.extra ?? [],
    req: { method: opts.method ?? 'GET', url: opts.url ?? '/pay?x=1', rawHeaders, headers, socket: { remoteAddress: '::ffff:10.0.0.7' } },
  } as unknown as Exchange;
}

/** The list as pairs, sorted, so order inside the regular fields does not matter. */
function pairs(list: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) out.push(`${list[i]}: ${list[i + 1]}`);
  return out;
}

test('HTTP/1 request → h2 list: Host becomes :authority, pseudo-headers added, hop-by-hop dropped, repeats kept', () => {
  const ex = exchange(['Host', 'payments:8080', 'Cookie', 'a=1', 'cookie', 'b=2', 'X-Multi', 'one', 'x-multi', 'two', 'Connection', 'keep-alive, x-drop', 'X-Drop', 'gone', 'Keep-Alive', 'timeout=5'], {
    method: 'POST',
    extra: ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
  });
  const list = upstreamRequestHeadersH2List(ex);
  const p = pairs(list);
  assert.ok(p.includes(':authority: payments:8080'));
  assert.ok(p.includes(':method: POST'));
  assert.ok(p.includes(':path: /pay?x=1'));
  assert.ok(p.includes(':scheme: http'));
  assert.ok(!p.some((h) => /^host:/i.test(h)), 'no Host next to :authority');
  assert.deepEqual(p.filter((h) => /^cookie:/i.test(h)), ['Cookie: a=1; b=2'], 'one Cookie field: the next hop forwards it to an HTTP/1.1 app');
  assert.deepEqual(p.filter((h) => /^x-multi:/i.test(h)), ['X-Multi: one', 'x-multi: two']);
  assert.ok(!p.some((h) => /^(connection|keep-alive|x-drop):/i.test(h)), p.join('\n'));
  assert.ok(p.includes('x-forwarded-for: 10.0.0.7'));
  assert.ok(p.includes('traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'));
});

test('HTTP/2 request → h2 list: its :authority is carried once', () => {
  const ex = exchange([':method', 'GET', ':path', '/a', ':scheme', 'http', ':authority', 'payments', 'accept', '*/*'], { http2: true, url: '/a' });
  const p = pairs(upstreamRequestHeadersH2List(ex));
  assert.deepEqual(p.filter((h) => h.startsWith(':authority')), [':authority: payments']);
  assert.deepEqual(p.filter((h) => h.startsWith(':method')), [':method: GET']);
  assert.ok(p.includes('accept: */*'));
});

test('h2 response list → HTTP/1 lines: pseudo-headers and hop-by-hop out, set-cookie lines stay apart', () => {
  const raw = [':status', '200', 'content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'x-multi', 'one', 'x-multi', 'two', 'keep-alive', 'timeout=5', 'x-named', 'v'];
  assert.deepEqual(responseHeadersH1FromList(raw, undefined), ['content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'x-multi', 'one', 'x-multi', 'two', 'x-named', 'v']);
  // A name the Connection header lists is hop-by-hop too.
  assert.deepEqual(responseHeadersH1FromList(raw, 'x-named'), ['content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'x-multi', 'one', 'x-multi', 'two']);
});
