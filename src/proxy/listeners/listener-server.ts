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

  constructor(spec: Listener, state: ProxyState) {
    this.spec = spec;
    this.key = listenerKey(spec);
    this.name = spec.name;
    this.state = state;
    const handler = httpEntry(state, spec.name);
    // These servers never listen: they parse connections handed over after detection.
    this.h1 = http.createServer(
      { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 60_000, requireHostHeader: false, noDelay: true },
      handler as http.RequestListener,
    );
    this.h1.on('upgrade', upgradeEntry(state, spec.name));
    // Malformed HTTP/1: answer 400 as Node would, then close.
    this.h1.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (err.code !== 'ECONNRESET' && socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nx-mesh-error: downstream-protocol-error\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      socket.destroy();
    });
    this.h2 = http2.createServer({ settings: { maxConcurrentStreams: 1000 } }, handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
    this.h2.on('sessionError', () => {});
    this.h2.on('session', (session) => {
      this.sessions.add(session);
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
      // The pipes resume the socket once the upstream connects; bytes read so far wait in its buffer.
      proxyTcp(socket, listener, this.state.telemetry);
    } else if (d === 'http2') {
      this.h2.emit('connection', socket);
    } else {
      socket.allowHalfOpen = false;
      this.h1.emit('connection', socket);
      socket.resume();
    }
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
      else if (kind === 'http1' && !(socket as unknown as { _httpMessage?: unknown })._httpMessage) socket.destroy();
    }
  }

  destroy(): void {
    this.server.close();
    for (const s of this.sockets.keys()) s.destroy();
    this.sockets.clear();
  }
}
