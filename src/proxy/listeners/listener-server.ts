// One bound listener socket. It outlives snapshots while its name, address,
// port and protocol stay the same; every connection reads the live runtime,
// so route and cluster changes apply without touching the socket.
import net from 'node:net';
import http from 'node:http';
import http2 from 'node:http2';
import type { Listener } from '../../shared/snapshot.ts';
import type { ProxyState } from '../runtime/proxy-state.ts';
import { detectProtocol, type Detected } from './detect-protocol.ts';
import { DEFAULT_OPAQUE_PORTS } from './opaque-ports.ts';
import { httpEntry, upgradeEntry } from './http-entry.ts';
import { proxyTcp } from '../tcp/proxy-tcp.ts';
import { TlsInbound, inboundPeerOf, keepSessionPeer, type InboundPeer } from './tls-inbound.ts';
import { listenerAuthz } from '../authz/listener-authz.ts';
import { guardH2Session } from './h2-abuse-guard.ts';
import { tcpAuthzCounter } from '../telemetry/authz-decision-counter.ts';
import { H2_SETTINGS, widenConnectionWindow } from '../clusters/h2-windows.ts';
import type { CompiledListener } from '../runtime/compiled-listener.ts';
import type tls from 'node:tls';

// Time for a client to send a request's headers; then 408 and close. An environment knob (seconds-scale values
// make tests of it quick); the default is Node's own.
const HEADERS_TIMEOUT_MS = Number(process.env.MESH_PROXY_HEADERS_TIMEOUT_MS) || 60_000;

// Malformed HTTP/1 the parser refused: the status that says why (default 400).
const CLIENT_ERROR_STATUS: Record<string, [string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: ['408', 'Request Timeout'],
  HPE_HEADER_OVERFLOW: ['431', 'Request Header Fields Too Large'],
};

export function listenerKey(l: Listener): string {
  return `${l.name}|${l.address}|${l.port}|${l.protocol}`;
}

export class ListenerServer {
  readonly key: string;
  readonly name: string;
  private readonly spec: Listener;
  private readonly state: ProxyState;
  private readonly server: net.Server;
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  // Open downstream sockets and what each carries (known after detection).
  private readonly sockets = new Map<net.Socket, Detected | 'detecting'>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private bound: { address: string; port: number } | undefined;
  /** HTTP exchanges in flight on this listener. */
  inflight = 0;
  private readonly onExchangeClose = (): void => {
    this.inflight--;
  };
  // Made on the first connection that needs it; the mode is read from the live snapshot per connection.
  private tlsIn: TlsInbound | undefined;

  constructor(spec: Listener, state: ProxyState) {
    this.spec = spec;
    this.key = listenerKey(spec);
    this.name = spec.name;
    this.state = state;
    const entry = httpEntry(state, spec.name);
    // Counts HTTP exchanges in flight, so a drain can end as soon as none is left.
    const handler = (req: Parameters<typeof entry>[0], res: Parameters<typeof entry>[1]): void => {
      // An HTTP/2 stream refused by the abuse guard (h2-abuse-guard.ts) must not cost an upstream request.
      if ((req as { stream?: { destroyed: boolean } }).stream?.destroyed) return;
      this.inflight++;
      res.on('close', this.onExchangeClose); // 'close' comes once; on() spares once()'s wrapper per request
      entry(req, res);
    };
    // These servers never listen: they parse connections handed over after detection.
    // optimizeEmptyRequests (Node >= 24.9; ignored before): a request without Content-Length or
    // Transfer-Encoding skips the Readable life cycle of its IncomingMessage (no 'data'/'end'/'close',
    // about a dozen nextTicks fewer per request). Bodies are read only when requestHasBody() says so,
    // which tests the same two headers.
    this.h1 = http.createServer(
      {
        requestTimeout: 0,
        headersTimeout: HEADERS_TIMEOUT_MS,
        connectionsCheckingInterval: Math.min(30_000, HEADERS_TIMEOUT_MS / 2),
        keepAliveTimeout: 60_000,
        requireHostHeader: false,
        noDelay: true,
        optimizeEmptyRequests: true,
      } as http.ServerOptions,
      handler as http.RequestListener,
    );
    // Node enforces headersTimeout from a timer it starts on 'listening'; this server never listens (sockets
    // are handed to it), so without this a client trickling its headers (slowloris) held a socket forever.
    // destroy() stops the timer again (http.Server.close).
    this.h1.emit('listening');
    this.h1.on('upgrade', upgradeEntry(state, spec.name));
    // Malformed HTTP/1: answer 400 as Node would, then close.
    // Logged (access log, with the parser's code) so an attack or a broken client shows; nothing was proxied.
    this.h1.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (err.code !== 'ECONNRESET') {
        const [status, text] = CLIENT_ERROR_STATUS[err.code ?? ''] ?? ['400', 'Bad Request'];
        if (socket.writable) socket.end(`HTTP/1.1 ${status} ${text}\r\nx-mesh-error: downstream-protocol-error ${err.code ?? ''}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
        const listener = this.state.runtime?.listeners.get(this.name);
        if (listener) this.state.telemetry.recordRefusedTcp(listener, undefined, 'http1', `downstream-protocol-error ${status} ${err.code ?? err.message}`);
      }
      socket.destroy();
    });
    this.h2 = http2.createServer({ settings: H2_SETTINGS }, handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
    this.h2.on('sessionError', () => {});
    this.h2.on('session', (session) => {
      guardH2Session(session, (why) => {
        const listener = this.state.runtime?.listeners.get(this.name);
        if (listener) this.state.telemetry.recordRefusedTcp(listener, undefined, 'http2', `downstream-protocol-error ${why}`);
      });
      this.sessions.add(session);
      keepSessionPeer(session);
      widenConnectionWindow(session);
      session.once('close', () => this.sessions.delete(session));
    });
    this.server = net.createServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: false }, (s) => this.onConnection(s));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host: this.spec.address, port: this.spec.port, backlog: 4096 }, () => {
        this.server.removeListener('error', onError);
        this.server.on('error', () => {});
        const a = this.server.address() as net.AddressInfo;
        this.bound = { address: a.address, port: a.port };
        resolve();
      });
    });
  }

  address(): { address: string; port: number } | undefined {
    return this.bound;
  }

  activeConnections(): number {
    return this.sockets.size;
  }

  private onConnection(socket: net.Socket): void {
    const listener = this.state.runtime?.listeners.get(this.name);
    if (listener === undefined) {
      socket.destroy();
      return;
    }
    const tel = this.state.telemetry;
    const active = tel.listeners.active_connections.with(listener.direction, this.name);
    active.value++;
    this.sockets.set(socket, 'detecting');
    socket.once('close', () => {
      active.value--;
      this.sockets.delete(socket);
    });
    socket.on('error', () => {});
    const mode = listener.spec.tls?.mode ?? 'disabled';
    if (mode !== 'disabled') {
      this.tlsIn ??= new TlsInbound(this.name, this.state, (s, peer) => this.onSecure(s, peer));
      this.tlsIn.accept(socket, mode === 'permissive', () => {
        this.detectAndDispatch(socket, listener);
        // The first-byte check paused the socket; detection waits for 'data' (TCP pipes resume on their own).
        if (socket.listenerCount('data') > 0 && socket.isPaused()) socket.resume();
      });
      return;
    }
    this.detectAndDispatch(socket, listener);
  }

  /** A verified mTLS connection: ALPN says HTTP/2 or HTTP/1.1; none means opaque TCP (or detect). */
  private onSecure(socket: tls.TLSSocket, _peer: InboundPeer): void {
    const listener = this.state.runtime?.listeners.get(this.name);
    if (listener === undefined) {
      socket.destroy();
      return;
    }
    socket.on('error', () => {});
    // Drain looks at the accepted (raw) socket: an h2 session gets GOAWAY instead of a cut; HTTP/1.1 and
    // TCP over TLS are left to finish until the drain deadline ('tcp' is never closed early).
    const raw = (socket as unknown as { _parent?: net.Socket })._parent;
    if (raw && this.sockets.has(raw)) this.sockets.set(raw, socket.alpnProtocol === 'h2' ? 'http2' : 'tcp');
    if (socket.alpnProtocol === 'h2') this.dispatch(socket, 'http2');
    else if (socket.alpnProtocol === 'http/1.1') this.dispatch(socket, 'http1');
    else this.detectAndDispatch(socket, listener);
  }

  private detectAndDispatch(socket: net.Socket, listener: CompiledListener): void {
    const proto = this.spec.protocol;
    // Opaque TCP is an option only where the listener says where opaque bytes go.
    const tcpOk = proto === 'tcp' || (proto === 'auto' && listener.tcp !== undefined);
    if (proto === 'tcp' || (tcpOk && DEFAULT_OPAQUE_PORTS.has(this.bound!.port))) {
      this.dispatch(socket, 'tcp');
      return;
    }
    // Without a TCP fallback, detection only tells HTTP/1 from the HTTP/2 preface and never times out
    // (an HTTP client may open a connection well before its first request).
    detectProtocol(socket, tcpOk ? listener.spec.detectTimeoutMs : 0, (d) => this.dispatch(socket, d === 'tcp' && !tcpOk ? 'http1' : d));
  }

  private dispatch(socket: net.Socket, detected: Detected): void {
    const listener = this.state.runtime?.listeners.get(this.name);
    if (listener === undefined || socket.destroyed) {
      socket.destroy();
      return;
    }
    // HTTP on a listener with no HTTP routes but a TCP destination is carried opaquely.
    const d = detected !== 'tcp' && listener.routes.routes.length === 0 && listener.tcp !== undefined ? 'tcp' : detected;
    this.state.telemetry.listeners.downstream_connections_total.with(listener.direction, this.name, d).value++;
    if (this.sockets.has(socket)) this.sockets.set(socket, d);
    if (d === 'tcp') {
      const peer = inboundPeerOf(socket);
      if (!this.authorizeTcp(socket, listener, peer)) return;
      // The pipes resume the socket once the upstream connects; bytes read so far wait in its buffer.
      proxyTcp(socket, listener, this.state.telemetry, peer ? 'tls' : 'tcp', peer?.service);
    } else if (d === 'http2') {
      this.h2.emit('connection', socket);
    } else {
      socket.allowHalfOpen = false;
      this.h1.emit('connection', socket);
      socket.resume();
    }
  }

  /** Inbound opaque TCP under an AuthzPolicy: a denied connection is closed, counted and logged. */
  private authorizeTcp(socket: net.Socket, listener: CompiledListener, peer: InboundPeer | undefined): boolean {
    const spec = listener.spec;
    if (listener.direction !== 'inbound' || !spec.authz || spec.authz.rules.length === 0) return true;
    const d = listenerAuthz(spec)({ source: peer?.service ? { service: peer.service, spiffeId: peer.spiffeId } : undefined, port: spec.port || this.bound!.port });
    // The same counting as the HTTP authz filter (one cached series per decision and rule).
    const counter = tcpAuthzCounter(this.state.telemetry.tls.authz_decisions_total, this.name);
    if (d.allowed) {
      counter.count(d.audited ? 'audit_denied' : 'allowed', d.rule ?? 'default-allow');
      return true;
    }
    counter.count('denied', d.rule ?? '');
    socket.destroy();
    this.state.telemetry.recordRefusedTcp(listener, peer?.service, peer ? 'tls' : 'tcp', `rbac-denied ${d.rule ?? ''}`.trimEnd());
    return false;
  }

  get direction(): Listener['direction'] {
    return this.spec.direction;
  }

  /** Work in flight: an HTTP exchange, or an open opaque TCP connection. */
  busy(): boolean {
    if (this.inflight > 0) return true;
    for (const kind of this.sockets.values()) if (kind === 'tcp') return true;
    return false;
  }

  /** Stop accepting; open connections go on. */
  stopAccepting(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Stop accepting and let in-flight exchanges finish, for at most `ms`. */
  async drain(ms: number): Promise<void> {
    const closed = this.stopAccepting();
    const deadline = Date.now() + ms;
    for (;;) {
      this.closeIdle();
      if (this.sockets.size === 0 || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    this.destroy();
    await closed;
  }

  /** HTTP/2: GOAWAY then close when streams finish; HTTP/1: close sockets between requests; TCP runs on. */
  private closeIdle(): void {
    for (const session of this.sessions) if (!session.closed) session.close();
    for (const [socket, kind] of this.sockets) {
      if (kind === 'detecting') socket.destroy();
      // Node's http server sets _httpMessage while a response is in progress on the socket.
      else if (kind === 'http1') {
        const msg = (socket as unknown as { _httpMessage?: { shouldKeepAlive: boolean } | null })._httpMessage;
        if (!msg) socket.destroy();
        // A response still to be written says `connection: close`.
        else msg.shouldKeepAlive = false;
      }
    }
  }

  destroy(): void {
    this.tlsIn?.close();
    this.server.close();
    this.h1.close();
    for (const s of this.sockets.keys()) s.destroy();
    this.sockets.clear();
  }
}
