// Opaque TCP: pick a destination and endpoint, then pipe bytes both ways with
// backpressure and half-close; one access-log line when both sides are done.
import net from 'node:net';
import type { CompiledListener } from '../runtime/compiled-listener.ts';
import type { ProxyTelemetry } from '../telemetry/proxy-telemetry.ts';

export function proxyTcp(socket: net.Socket, listener: CompiledListener, telemetry: ProxyTelemetry, protocol = 'tcp'): void {
  const startMs = Date.now();
  const startNs = process.hrtime.bigint();
  const tcp = listener.tcp;
  const cluster = tcp?.destinations.pick();
  const ep = cluster?.lb.pick();
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
      source: listener.sourceService,
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
  const up = net.connect({ host: ep.address, port: ep.port, noDelay: true, allowHalfOpen: true });
  upstream = up;
  let connected = false;
  up.once('connect', () => {
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
