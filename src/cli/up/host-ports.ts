// The host ports a compose model publishes, and whether each is free: `up`
// checks them before it changes anything, so a taken port is reported with its
// service and a fix instead of a half-started project.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { ComposeModel } from '../compose/compose-model.ts';
import { isObj } from '../compose/compose-model.ts';

export interface HostPort {
  service: string;
  host: string;
  port: number;
  target: string;
}

/** Fixed host ports (not ranges, not "let Docker pick") of every service. */
export function publishedHostPorts(model: ComposeModel): HostPort[] {
  const out: HostPort[] = [];
  for (const [service, svc] of Object.entries(model.services)) {
    for (const p of Array.isArray(svc.ports) ? svc.ports : []) {
      if (isObj(p)) {
        const published = Number(p.published);
        if (Number.isInteger(published) && published > 0) out.push({ service, host: String(p.host_ip ?? '0.0.0.0') || '0.0.0.0', port: published, target: String(p.target) });
        continue;
      }
      // [ip:][host:]container[/proto], read from the right (an IPv6 ip has colons of its own).
      const parts = String(p).replace(/\/\w+$/, '').split(':');
      if (parts.length < 2) continue;
      const target = parts.pop()!;
      const published = parts.pop()!;
      if (!/^\d+$/.test(published)) continue;
      const ip = parts.join(':').replace(/^\[|\]$/g, '');
      out.push({ service, host: ip || '0.0.0.0', port: Number(published), target });
    }
  }
  return out;
}

/** Resolves with the error code when the port cannot be bound (EADDRINUSE, EACCES), else undefined. */
export function portBusy(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRNOTAVAIL' ? undefined : (err.code ?? err.message)));
    s.listen({ host: host === '::' ? undefined : host, port, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

/** The kernel's ephemeral port range: every outgoing connection draws its local port from it. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low, high];
  } catch {
    // not Linux: the IANA range
  }
  return [49152, 65535];
}

/** Binds `port` (0: any) on `host` and lets it go; resolves with the port, or undefined when `port` is taken. */
function bindOnce(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) => (port !== 0 && err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err)));
    s.listen({ host, port, exclusive: true }, () => {
      const bound = (s.address() as { port: number }).port;
      s.close(() => resolve(bound));
    });
  });
}

/**
 * A free port on `host` (for the controller API, and the ports tests publish),
 * chosen below the ephemeral range. A port bind(0) hands out comes from that
 * range, so between our check and Docker's bind an outgoing connection may
 * take it; a port below it is only taken by someone who asks for it.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  const low = 20_000;
  const high = Math.min(ephemeralLow, 65_536);
  for (let i = 0; high - low >= 1000 && i < 40; i++) {
    const port = await bindOnce(host, low + Math.floor(Math.random() * (high - low)));
    if (port !== undefined) return port;
  }
  return (await bindOnce(host, 0))!;
}
