// `meshctl certs`: each service's mesh identity, certificate serial, expiry
// and issuer, and the roots the mesh trusts, from the controller's CA;
// subcommands rotate and rotate-root (certs-rotate.ts).
import type { Command } from 'commander';
import type { CertsResponse } from '../../shared/identity.ts';
import { controllerOptions } from './controller-options.ts';
import { registerCertsRotate } from './certs-rotate.ts';

export function registerCerts(program: Command): void {
  const certs = controllerOptions(program.command('certs'))
    .description('List each service\'s identity (SPIFFE id), certificate serial, expiry and issuer, and the trusted roots.')
    .option('--json', 'print JSON')
    .action(async (opts: { controller?: string; token?: string; json?: boolean }) => {
      const { ControllerClient } = await import('../controller-client.ts');
      const { CertsResponse } = await import('../../shared/identity.ts');
      const client = await ControllerClient.connect({ url: opts.controller, token: opts.token });
      const r = await client.call('GET', '/v1/certs', CertsResponse);
      process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : formatCerts(r, Date.now()));
    });
  registerCertsRotate(certs);
}

/** A plain table; expiry also as time left, so a stuck renewal shows. */
export function formatCerts(r: CertsResponse, now: number): string {
  const left = (iso: string) => {
    const ms = Date.parse(iso) - now;
    if (ms <= 0) return 'EXPIRED';
    const h = Math.floor(ms / 3600_000);
    return h >= 48 ? `${Math.floor(h / 24)}d` : `${h}h${String(Math.floor((ms % 3600_000) / 60_000)).padStart(2, '0')}m`;
  };
  const rows = [['SERVICE', 'IDENTITY', 'SERIAL', 'EXPIRES', 'LEFT', 'ISSUER']];
  for (const s of r.services) rows.push([s.service, s.spiffeId, s.serial.slice(0, 16), s.notAfter, left(s.notAfter), s.issuer]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
  const roots = r.roots.map((x) => `  ${(x.state ?? (x.active ? 'active' : 'previous')).padEnd(8)} ${x.subject}  serial ${x.serial.slice(0, 16)}  until ${x.notAfter}`).join('\n');
  const none = r.services.length === 0 ? '\n(no certificate issued yet)' : '';
  const rot = r.rotation && r.rotation.phase !== 'idle'
    ? `root rotation: ${r.rotation.phase}${r.rotation.waitingFor.length ? `, waiting for ${r.rotation.waitingFor.map((w) => `${w.proxyId} (${w.reason})`).join('; ')}` : ''}\n`
    : '';
  return `trust domain ${r.trustDomain}\nroots:\n${roots}\n${rot}\n${table}${none}\n`;
}
