// Fault injection on opaque TCP listeners: delay the upstream connect, or
// reset the client connection, for a percentage of connections (the header
// match does not apply: there are no headers).
import type net from 'node:net';
import type { CompiledListener } from '../runtime/compiled-listener.ts';
import type { ProxyTelemetry } from '../telemetry/proxy-telemetry.ts';
import { resilienceStats } from '../telemetry/resilience-stats.ts';

/** True when the fault took the connection over; `proceed` continues it after a delay. */
export function applyTcpFault(socket: net.Socket, listener: CompiledListener, telemetry: ProxyTelemetry, proceed: () => void): boolean {
  const f = listener.spec.fault;
  if (f === undefined || f.header !== undefined) return false;
  const count = (kind: string): void => {
    resilienceStats(telemetry).faults_injected_total.with(listener.direction, listener.name, '', kind).value++;
  };
  const abortNow = (): boolean => {
    const a = f.abort;
    if (a === undefined || Math.random() * 100 >= a.percent) return false;
    count('reset');
    socket.resetAndDestroy();
    telemetry.recordRefusedTcp(listener, undefined, 'tcp', 'fault-injected reset');
    return true;
  };
  if (f.delay !== undefined && Math.random() * 100 < f.delay.percent) {
    count('delay');
    setTimeout(() => {
      if (socket.destroyed) return;
      if (!abortNow()) proceed();
    }, f.delay.ms);
    return true;
  }
  return abortNow();
}
