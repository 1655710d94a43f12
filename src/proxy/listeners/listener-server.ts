// One bound listener socket. It outlives snapshots while its name, address,
// port and protocol stay the same; every connection reads the live runtime,
// so route and cluster changes apply without touching the socket.
import net from 'node:net';
import http2 from 'node:http2';
import type { Listener } from '../../shared/snapshot.ts';
import type { ProxyState } from '../runtime/proxy-state.ts';
import { detectProtocol, type Detected } from './detect-protocol.ts';
import { DEFAULT_OPAQUE_PORTS } from './opaque-ports.ts';
import { httpEntry, upgradeEntry } from './http-entry.ts';
import { H1ServerConnection, h1ConnectionOf, type H1ServerOptions } from './h1-server-connection.ts';
import { proxyTcp } from '../tcp/proxy-tcp.ts';
import { TlsInbound, inboundPeerOf, keepSessionPeer, type InboundPeer } from './tls-inbound.ts';
import { listenerAuthz } from '../authz/listener-authz.ts';
import { guardH2Session } from './h2-abuse-guard.ts';
import { H2StreamRequest, H2StreamResponse, admitH2Stream } from './h2-stream-exchange.ts';
import { meshH2Enabled, meshH2Server } from '../h2/mesh-h2.ts';
import { tcpAuthzCounter } from '../telemetry/authz-decision-counter.ts';
import { H2_SETTINGS, widenConnectionWindow } from '../clusters/h2-windows.ts';
import type { CompiledListener } from '../runtime/compiled-listener.ts';
import type tls from 'node:tls';

// Time for a client to send a request's headers; then 408 and close. An environment knob (seconds-scale values
// make tests of it quick); the default is Node's.
const HEADERS_TIMEOUT_MS = Number(process.env.MESH_PROXY_HEADERS_TIMEOUT_MS) || 60_000;

// Time an HTTP/1 connection may sit idle between requests.
const KEEP_ALIVE_TIMEOUT_MS = 60_000;

export function listenerKey(l: Listener): string {
  return `${l.name}|${l.address}|${l.port}|${l.protocol}`;
}

export class ListenerServer {
  readonly key: string;
  readonly name: string;
  private readonly spec: Listener;
  private readonly state: ProxyState;
  private readonly server: net.Server;
  private readonly h1: H1ServerOptions;
  private readonly h2: http2.Http2Server;
  // Open downstream sockets and what each carries (known after detection).
  private readonly sockets = new Map<net.Socket, Detected | 'detecting'>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  // The connection being handed to the HTTP/2 server: its 'session' event comes synchronously (see dispatch).
  private h2Socket: net.Socket | undefined;
  private bound: { address: string; port: number } | undefined;
  /** HTTP exchanges in flight on this listener. */
  inflight = 0;
  private readonly onExchangeClose = (): void => {
    this.inflight--;
  };
  // Made on the first connection that needs it; the mode is read from the live snapshot per connection.
  private tlsIn: TlsInbound | undefined;
  // Serves each HTTP request (HTTP/1 and HTTP/2 alike), counting it in flight.
  private readonly handle: (req: H2StreamRequest, res: H2StreamResponse) => void;

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
    this.handle = handler as unknown as (req: H2StreamRequest, res: H2StreamResponse) => void;
    // HTTP/1 connections handed over after detection are parsed by the proxy's own server
    // (h1-server-connection.ts), which hands requests to the same handler as HTTP/2's.
    // The request path types its requests as node:http's; the proxy's own request and response give it the
    // subset it uses (h1-incoming-request.ts, h1-server-response.ts), hence the casts.
    this.h1 = {
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      onRequest: handler as unknown as H1ServerOptions['onRequest'],
      onUpgrade: upgradeEntry(state, spec.name) as unknown as H1ServerOptions['onUpgrade'],
      // Malformed HTTP/1, already answered (400, 408, 431, 501) and closed: logged (access log, with the
      // parser's code) so an attack or a broken client shows; nothing was proxied.
      onProtocolError: (status, code) => {
        const listener = this.state.runtime?.listeners.get(this.name);
        if (listener) this.state.telemetry.recordRefusedTcp(listener, undefined, 'http1', `downstream-protocol-error ${status} ${code}`);
      },
    };
    this.h2 = http2.createServer({ settings: H2_SETTINGS });
    this.h2.on('sessionError', () => {});
    this.h2.on('session', (session) => {
      widenConnectionWindow(session);
      this.adoptH2Session(session, this.h2Socket, undefined);
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
    } else if (d === 'http2' && meshH2Enabled && inboundPeerOf(socket) !== undefined) {
      this.serveMeshH2(socket);
    } else if (d === 'http2') {
      this.h2Socket = socket;
      this.h2.emit('connection', socket);
      this.h2Socket = undefined;
    } else {
      new H1ServerConnection(socket, this.h1); // it starts reading itself
    }
  }

  /** HTTP/2 from a verified peer sidecar, on the mesh engine (h2/mesh-h2.ts). */
  private serveMeshH2(socket: net.Socket): void {
    const session = meshH2Server(socket as tls.TLSSocket);
    session.on('error', () => {});
    // The engine's session and streams offer the part of node:http2's API used here (close(), closed, 'stream').
    this.adoptH2Session(session as unknown as http2.ServerHttp2Session, socket, inboundPeerOf(socket)?.service);
  }

  /**
   * Serves an HTTP/2 session's streams, of either engine, under the abuse guard (a peer sidecar is
   * authenticated, not trusted); `source` names the caller in the log of a session the guard ends.
   */
  private adoptH2Session(session: http2.ServerHttp2Session, socket: net.Socket | undefined, source: string | undefined): void {
    guardH2Session(session, (why) => {
      const listener = this.state.runtime?.listeners.get(this.name);
      if (listener) this.state.telemetry.recordRefusedTcp(listener, source, 'http2', `downstream-protocol-error ${why}`);
    });
    this.sessions.add(session);
    keepSessionPeer(session);
    // After the guard's own 'stream' listener: a stream it refused is destroyed by now.
    session.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      if (stream.destroyed || !admitH2Stream(stream, headers)) return;
      this.handle(new H2StreamRequest(stream, headers, rawHeaders, socket), new H2StreamResponse(stream));
    });
    session.once('close', () => this.sessions.delete(session));
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
      // An idle connection closes now; one with a response in progress after it (saying `connection: close`).
      else if (kind === 'http1') {
        const conn = h1ConnectionOf(socket);
        if (conn === undefined) socket.destroy();
        else conn.closeWhenIdle();
      }
    }
  }

  destroy(): void {
    this.tlsIn?.close();
    this.server.close();
    for (const s of this.sockets.keys()) s.destroy();
    this.sockets.clear();
  }
}
