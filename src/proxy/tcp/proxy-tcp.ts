// Opaque TCP: pick a destination and endpoint, then pipe bytes both ways with
// backpressure and half-close; one access-log line when both sides are done.
import net from 'node:net';
import type { CompiledListener } from '../runtime/compiled-listener.ts';
import type { ProxyTelemetry } from '../telemetry/proxy-telemetry.ts';
import { inboundPeerOf } from '../listeners/tls-inbound.ts';
import { applyTcpFault } from './tcp-fault.ts';
import { pickEndpoint } from '../clusters/pick-endpoint.ts';

/** `source`: the verified peer service on an mTLS listener (else the listener's). */
export function proxyTcp(socket: net.Socket, listener: CompiledListener, telemetry: ProxyTelemetry, protocol = 'tcp', source?: string, faulted = false): void {
  // Fault injection (delay, reset) on the listener: it may take the connection over or resume it later.
  if (!faulted && listener.spec.fault !== undefined && applyTcpFault(socket, listener, telemetry, () => proxyTcp(socket, listener, telemetry, protocol, source, true))) return;
  const startMs = Date.now();
  const startNs = process.hrtime.bigint();
  const tcp = listener.tcp;
  const cluster = tcp?.destinations.pick();
  // Skips endpoints failing health checks or ejected.
  const ep = cluster === undefined ? undefined : pickEndpoint(cluster, undefined);
  const destination = tcp?.service ?? listener.localService;
  let error: string | undefined;
  let logged = false;
  let upstream: net.Socket | undefined;
  // bytesRead of the client socket includes bytes peeked during detection (they were unshifted and read again).
  const finish = (): void => {
    if (logged) return;
    logged = true;
    telemetry.recordTcp({
      listener,
      source: source ?? listener.sourceService,
      // Inbound mTLS: the verified caller and TLS version (tls-inbound.ts keeps them on the socket).
      peerIdentity: inboundPeerOf(socket)?.spiffeId,
      tlsVersion: inboundPeerOf(socket)?.tlsVersion,
      destination,
      cluster: cluster?.name,
      upstream: ep?.hostPort,
      startMs,
      durationMs: Math.round(Number(process.hrtime.bigint() - startNs) / 1e3) / 1e3,
      bytesIn: upstream?.bytesWritten ?? 0,
      bytesOut: upstream?.bytesRead ?? 0,
      error,
      protocol,
    });
  };
  if (!cluster || !ep) {
    error = !tcp ? `no-route ${listener.name} has no tcp destinations` : `no-healthy-endpoint ${cluster?.name ?? ''}`.trimEnd();
    socket.destroy();
    finish();
    return;
  }
  ep.inflight++;
  ep.requests++;
  let up: net.Socket;
  try {
    // A peer sidecar over mTLS: TLS-wrapped TCP, no ALPN.
    up = ep.tls ? ep.tls.connect([]) : net.connect({ host: ep.address, port: ep.port, noDelay: true, allowHalfOpen: true });
  } catch (err) {
    ep.inflight--;
    error = `upstream-connect-failure ${cluster.name} ${ep.hostPort} ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    socket.destroy();
    finish();
    return;
  }
  upstream = up;
  let connected = false;
  up.once(ep.tls ? 'secureConnect' : 'connect', () => {
    connected = true;
    socket.pipe(up);
    up.pipe(socket);
  });
  up.on('error', (err: NodeJS.ErrnoException) => {
    if (!connected) {
      error = `upstream-connect-failure ${cluster.name} ${ep.hostPort} ${err.code ?? err.message}`;
      ep.observeFailure(process.hrtime.bigint());
    } else error ??= `upstream-reset ${cluster.name} ${ep.hostPort} ${err.code ?? err.message}`;
    socket.destroy();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    error ??= `downstream-reset ${err.code ?? err.message}`;
    up.destroy();
  });
  let closed = 0;
  const onClose = (): void => {
    if (++closed === 2) {
      ep.inflight--;
      finish();
    }
  };
  socket.once('close', () => {
    up.destroy();
    onClose();
  });
  up.once('close', () => {
    // Half-close is carried by the pipes; a full close ends the client too once written.
    if (!connected) socket.destroy();
    onClose();
  });
}
