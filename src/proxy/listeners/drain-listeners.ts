// Graceful drain (SIGTERM): inbound listeners stop accepting at once and let
// in-flight exchanges finish (HTTP/1 `connection: close`, HTTP/2 GOAWAY);
// outbound listeners keep accepting, so the app can finish its own calls,
// until the period ends or nothing is in flight anywhere.
import type { ListenerServer } from './listener-server.ts';

const POLL_MS = 25;

export async function drainListeners(servers: readonly ListenerServer[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  const inbound = servers.filter((s) => s.direction === 'inbound');
  const outbound = servers.filter((s) => s.direction !== 'inbound');
  let inboundDone = false;
  const inboundDrained = Promise.all(inbound.map((s) => s.drain(ms))).then(() => {
    inboundDone = true;
  });
  // Outbound stays fully open while inbound drains, and while the app still has calls in flight.
  while (Date.now() < deadline && (!inboundDone || outbound.some((s) => s.busy()))) {
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  await Promise.all(outbound.map((s) => s.drain(Math.max(0, deadline - Date.now()))));
  await inboundDrained;
}
