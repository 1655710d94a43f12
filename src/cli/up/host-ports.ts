// The host ports a compose model publishes, and whether each is free: `up`
// checks them before it changes anything, so a taken port is reported with its
// service and a fix instead of a half-started project.
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

/** A free port on 127.0.0.1 (for the controller API). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
