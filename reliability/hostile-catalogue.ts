// The hostile-input catalogue of docs/reliability.md: each attack, where it
// lands, what the mesh does, and the test file that shows it.
export interface HostileRow {
  input: string;
  where: string;
  outcome: string;
  test: string;
}

const H = 'test/integration/hostile';
const http1 = `${H}/http1-malformed.test.ts`;

export const HOSTILE_ROWS: HostileRow[] = [
  { input: 'request smuggling: Content-Length with Transfer-Encoding: chunked', where: 'proxy, HTTP/1.1', outcome: '400 `downstream-protocol-error`, close; nothing reaches the upstream; logged', test: http1 },
  { input: 'request smuggling: two different Content-Length', where: 'proxy, HTTP/1.1', outcome: '400, close, nothing forwarded, logged', test: http1 },
  { input: 'obs-fold (a header continued on the next line), `Transfer-Encoding :` (space before the colon)', where: 'proxy, HTTP/1.1', outcome: '400, close, nothing forwarded, logged', test: http1 },
  { input: 'bare LF line endings', where: 'proxy, HTTP/1.1', outcome: '400, close, nothing forwarded, logged', test: http1 },
  { input: 'invalid method token', where: 'proxy, HTTP/1.1', outcome: '400, close, logged', test: http1 },
  { input: 'headers over 16 KiB; a URL over 16 KiB', where: 'proxy, HTTP/1.1', outcome: '431, close, logged', test: http1 },
  { input: 'slowloris: 20 connections trickling header bytes', where: 'proxy, HTTP/1.1', outcome: '408 and close once the header timeout passes (60 s; `MESH_PROXY_HEADERS_TIMEOUT_MS`), logged; others served meanwhile', test: `${H}/slow-clients.test.ts` },
  { input: 'a client that never reads a 1 GiB response', where: 'proxy, HTTP/1.1', outcome: 'backpressure: the proxy stops reading the upstream (≈ 8 MiB per connection in buffers), RSS bounded', test: `${H}/slow-clients.test.ts` },
  { input: 'HTTP/2 rapid reset: 20,000 streams opened and cancelled', where: 'proxy, h2c', outcome: 'GOAWAY and close; no cancelled request costs an upstream request or a circuit-breaker slot; logged', test: `${H}/http2-floods.test.ts` },
  { input: 'HTTP/2 SETTINGS flood, ACKs never read', where: 'proxy, h2c', outcome: 'GOAWAY ENHANCE_YOUR_CALM and close, logged', test: `${H}/http2-floods.test.ts` },
  { input: 'WebSocket upgrade to an unknown service', where: 'proxy', outcome: '404 `no-route`, close, logged; a live WebSocket keeps echoing', test: `${H}/websocket.test.ts` },
  { input: 'WebSocket upgrade to an upstream that closes at once', where: 'proxy', outcome: '502 `upstream-reset`, logged (was: a silent hang-up)', test: `${H}/websocket.test.ts` },
  { input: 'mTLS: no certificate, another CA, an expired certificate', where: 'inbound sidecar', outcome: 'handshake refused, counted', test: 'test/integration/mtls/mtls-refusals.test.ts' },
  { input: 'mTLS: plaintext on a strict port', where: 'inbound sidecar', outcome: 'refused (`plaintext-refused`), counted', test: 'test/integration/mtls/mtls-pair.test.ts' },
  { input: 'mTLS: a valid identity that an authorization rule does not allow', where: 'inbound sidecar', outcome: '403 `rbac-denied <rule>` (TCP: closed), logged', test: 'test/integration/mtls/authz.test.ts' },
  { input: 'a server with another identity or an expired certificate', where: 'outbound sidecar', outcome: 'refused by the client side, with the reason', test: 'test/integration/identity/mtls.test.ts' },
  { input: 'API: malformed bodies (not JSON, wrong shape, 100 KiB) on every body route; random JSON', where: 'controller', outcome: '400 (413 when too large) with the reason; never a 5xx', test: `${H}/control-plane.test.ts` },
  { input: 'API: override with a bad field or an unknown service; push subscribe without the token', where: 'controller', outcome: '400 naming the field / the known services; 401', test: 'test/integration/controller/push-channel.test.ts' },
  { input: 'push channel: an ACK with a wrong or no token', where: 'controller', outcome: '401', test: `${H}/control-plane.test.ts` },
  { input: 'push channel over mTLS: no client certificate, another CA, a certificate for another service', where: 'controller', outcome: 'handshake refused / 403 naming both services', test: 'test/integration/controller/push-channel-mtls.test.ts' },
  { input: 'a snapshot that fails validation', where: 'proxy', outcome: 'NACKed with the field paths; the old snapshot keeps serving', test: 'test/integration/proxy/snapshot-swap.test.ts' },
  { input: 'invalid mesh.config.ts (a wrong type, a syntax error), a route for an unknown service, a port listed twice, a compose YAML error', where: '`meshctl up`', outcome: 'exit 2 naming the file and field; not a byte changed in the folder, no container, no network', test: `${H}/user-input.test.ts` },
];
