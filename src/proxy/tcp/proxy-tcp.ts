// Opaque TCP: pick a destination and endpoint, then forward bytes both ways with
// backpressure and half-close; one access-log line when both sides are done.
import net from 'node:net';
import type { CompiledListener } from '../runtime/compiled-listener.ts';
import type { ProxyTelemetry } from '../telemetry/proxy-telemetry.ts';
import { inboundPeerOf } from '../listeners/tls-inbound.ts';
import { applyTcpFault } from './tcp-fault.ts';
import { ByteForwarder } from './byte-forwarder.ts';
import { canReadIntoBuffer } from './socket-read-buffer.ts';
import { pickEndpoint } from '../clusters/pick-endpoint.ts';
import { breakerOf } from '../clusters/circuit-breaker.ts';
import { listenerLimiter } from '../filters/rate-limit-filter.ts';
import { resilienceStats } from '../telemetry/resilience-stats.ts';

/** `source`: the verified peer service on an mTLS listener (else the listener's). */
export function proxyTcp(socket: net.Socket, listener: CompiledListener, telemetry: ProxyTelemetry, protocol = 'tcp', source?: string, faulted = false): void {
  // Listener rate limit: one token per new connection; over the limit the connection is closed at once.
  const refusedBy = faulted ? undefined : rateLimited(socket, listener, source);
  if (refusedBy !== undefined) {
    resilienceStats(telemetry).rate_limited_total.with(listener.direction, listener.name, '', 'listener').value++;
    socket.destroy();
    telemetry.recordRefusedTcp(listener, source, protocol, `rate-limited ${refusedBy}`);
    return;
  }
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
  // Circuit breaking: maxConnections caps the cluster's open upstream connections; over it, close at once.
  const breaker = breakerOf(cluster);
  const limit = breaker.tcpRefusal(cluster);
  if (limit !== undefined) {
    resilienceStats(telemetry).circuit_open_total.with(cluster.name, limit.slice(0, limit.indexOf(' '))).value++;
    error = `circuit-open ${cluster.name} ${limit}`;
    socket.destroy();
    finish();
    return;
  }
  breaker.tcpConnections++;
  ep.inflight++;
  ep.requests++;
  // Plain TCP both sides: each direction reads into one reused buffer and writes it on (byte-forwarder.ts);
  // TLS on either side: pipes (a TLS write always completes later, so a reused buffer would stall per chunk).
  const toClient = ep.tls === undefined && canReadIntoBuffer(socket) ? new ByteForwarder(socket) : undefined;
  let up: net.Socket;
  try {
    // A peer sidecar over mTLS: TLS-wrapped TCP, no ALPN.
    up = ep.tls ? ep.tls.connect([]) : net.connect({ host: ep.address, port: ep.port, noDelay: true, allowHalfOpen: true, onread: toClient?.onreadOption() });
  } catch (err) {
    toClient?.discard();
    ep.inflight--;
    breaker.tcpConnections--;
    error = `upstream-connect-failure ${cluster.name} ${ep.hostPort} ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    socket.destroy();
    finish();
    return;
  }
  upstream = up;
  // With onread, the upstream reads into toClient from the start (and it may move the upstream to another buffer).
  toClient?.start(up);
  let connected = false;
  // Connect timeout (cluster timeouts.connectMs): TCP connect, and the TLS handshake to a peer sidecar.
  const connectTimer = setTimeout(() => {
    if (connected) return;
    error = `timeout connect ${cluster.name} ${ep.hostPort}`;
    resilienceStats(telemetry).timeouts_total.with(listener.direction, listener.name, '', 'connect').value++;
    ep.observeFailure(process.hrtime.bigint());
    up.destroy();
    socket.destroy();
  }, ep.connectTimeoutMs);
  up.once(ep.tls ? 'secureConnect' : 'connect', () => {
    connected = true;
    clearTimeout(connectTimer);
    // adopt() is false only if the client went away meanwhile; pipe() then ends as it would.
    if (toClient === undefined || !new ByteForwarder(up).adopt(socket)) socket.pipe(up);
    if (toClient === undefined) up.pipe(socket);
  });
  up.on('error', (err: NodeJS.ErrnoException) => {
    if (error?.startsWith('timeout connect')) return;
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
      clearTimeout(connectTimer);
      ep.inflight--;
      breaker.tcpConnections--;
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

/** The limit that refuses this new connection (`listener <name> <rate>/s`), or undefined; key `source` is the peer or address. */
function rateLimited(socket: net.Socket, listener: CompiledListener, source: string | undefined): string | undefined {
  const lim = listenerLimiter(listener);
  if (lim === undefined) return undefined;
  const key = lim.policy.key === 'source' ? (inboundPeerOf(socket)?.spiffeId ?? source ?? socket.remoteAddress ?? '') : '';
  if (lim.buckets.take(key, Date.now()) === 0) return undefined;
  return `listener ${listener.name} ${lim.policy.requestsPerSecond}/s`;
}
