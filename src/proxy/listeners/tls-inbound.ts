// The mTLS side of an inbound listener. Each connection's first byte says
// whether it starts a TLS handshake (then node:tls verifies the client
// certificate against the mesh roots) or is plaintext (refused and counted in
// strict mode; served and counted in permissive mode, so users see who still
// sends plaintext). The verified peer is stored on the TLS socket for the
// request path (authz, x-mesh-peer-identity, metrics).
import type net from 'node:net';
import tls from 'node:tls';
import type { ProxyState } from '../runtime/proxy-state.ts';
import { isTlsClientHello } from '../identity/is-tls-client-hello.ts';
import { peerIdentity, type PeerIdentity } from '../identity/peer-identity.ts';

/** Where the verified peer of an inbound TLS socket is kept. */
export const INBOUND_PEER = Symbol.for('meshctl.inboundPeer');

export type InboundPeer = PeerIdentity;

/** The verified peer kept on a TLS socket, or on an HTTP/2 session (see keepSessionPeer). */
export function inboundPeerOf(socketOrSession: unknown): InboundPeer | undefined {
  return socketOrSession ? ((socketOrSession as Record<symbol, InboundPeer | undefined>)[INBOUND_PEER] ?? undefined) : undefined;
}

/**
 * Copies the peer of an HTTP/2 session's socket onto the session, once per
 * connection. Requests then read it from `req.stream.session`: the session's
 * `socket` is a Proxy, and a property read through it cost about 10 µs per
 * request on the inbound hop (CPU profile of bench scenario cm).
 */
export function keepSessionPeer(session: { socket: unknown }): void {
  const peer = inboundPeerOf(session.socket);
  if (peer) (session as unknown as Record<symbol, InboundPeer>)[INBOUND_PEER] = peer;
}

export class TlsInbound {
  private readonly name: string;
  private readonly state: ProxyState;
  private readonly server: tls.Server | undefined;
  private readonly detach: () => void;

  constructor(name: string, state: ProxyState, onSecure: (socket: tls.TLSSocket, peer: InboundPeer) => void) {
    this.name = name;
    this.state = state;
    const id = state.identity;
    const stats = state.telemetry.tls;
    if (!id) {
      this.server = undefined;
      this.detach = () => {};
      return;
    }
    // Never listens: accepted sockets are handed over after the first byte is read.
    this.server = tls.createServer({ ...id.serverOptions(), allowHalfOpen: true }, (socket) => {
      const peer = peerIdentity(socket);
      (socket as unknown as Record<symbol, InboundPeer>)[INBOUND_PEER] = peer;
      stats.tls_inbound_connections_total.with(name, 'mtls').inc();
      stats.tls_handshakes_total.with(name, socket.isSessionReused() ? 'true' : 'false').inc();
      onSecure(socket, peer);
    });
    // setSecureContext on every rotation: new handshakes use the new leaf, live ones keep theirs.
    this.detach = id.attachServer(this.server, (r) => {
      stats.tls_inbound_connections_total.with(name, 'handshake_failed').inc();
      stats.tls_handshake_failures_total.with(name, r.reason).inc();
      // The message names the certificate's validity window and the local clock for time errors.
      this.logRefusal(`tls-refused ${r.reason}: ${r.message}`, r.remoteAddress);
    });
    this.server.on('tlsClientError', () => {});
  }

  /**
   * Reads the first byte: TLS goes to the mTLS server; plaintext calls
   * `onPlaintext` when `permissive`, else the socket is closed.
   */
  accept(socket: net.Socket, permissive: boolean, onPlaintext: () => void): void {
    const stats = this.state.telemetry.tls.tls_inbound_connections_total;
    let buf: Buffer | undefined;
    const onData = (chunk: Buffer): void => {
      buf = buf ? Buffer.concat([buf, chunk]) : chunk;
      const tlsHello = isTlsClientHello(buf);
      if (tlsHello === undefined) return;
      socket.removeListener('data', onData);
      socket.pause();
      socket.unshift(buf);
      if (tlsHello) {
        if (!this.server) {
          // An mTLS listener on a proxy without a certificate cannot answer a handshake.
          stats.with(this.name, 'handshake_failed').inc();
          this.state.telemetry.tls.tls_handshake_failures_total.with(this.name, 'MESH_ERR_IDENTITY_UNAVAILABLE').inc();
          socket.destroy();
          return;
        }
        this.server.emit('connection', socket);
      } else if (permissive) {
        stats.with(this.name, 'plaintext').inc();
        onPlaintext();
      } else {
        stats.with(this.name, 'plaintext_refused').inc();
        this.logRefusal('plaintext-refused strict mTLS: the client did not start a TLS handshake', socket.remoteAddress);
        socket.destroy();
      }
    };
    socket.on('data', onData);
  }

  close(): void {
    this.detach();
  }

  private logRefusal(error: string, remote: string | undefined): void {
    const tel = this.state.telemetry;
    const l = this.state.runtime?.listeners.get(this.name);
    if (!tel.accessLogEnabled || !l) return;
    tel.accessLog.write({
      time: new Date().toISOString(), kind: 'tcp', direction: l.direction, listener: this.name, source: remote ?? 'unknown',
      destination: l.localService, protocol: 'tls', duration_ms: 0, bytes_in: 0, bytes_out: 0, error,
    });
  }
}
