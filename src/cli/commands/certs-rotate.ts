// `meshctl certs rotate` (every proxy renews its leaf now) and `meshctl certs
// rotate-root [--finish]` (a new mesh root, trusted alongside the old one until
// every proxy renewed from it): thin wrappers over POST /v1/certs/rotate,
// with --wait polling GET /v1/certs until the rotation is done.
import type { Command } from 'commander';
import type { CertsResponse, RotateResponse } from '../../shared/identity.ts';
import { MeshError } from '../../shared/errors.ts';
import { parseDuration } from '../parse-duration.ts';
import { controllerOptions } from './controller-options.ts';

interface RotateOptions {
  controller?: string;
  token?: string;
  json?: boolean;
  wait?: boolean;
  timeout: string;
  finish?: boolean;
}

export function registerCertsRotate(certs: Command): void {
  controllerOptions(certs.command('rotate'))
    .description('Every proxy renews its leaf certificate now (new key, same root). Live connections finish on the old leaf; new handshakes use the new one.')
    .option('--wait', 'wait until every proxy holds a leaf of the new generation')
    .option('--timeout <duration>', 'how long --wait waits', '60s')
    .option('--json', 'print JSON')
    .action((opts: RotateOptions) => rotate({ scope: 'leaves' }, opts));
  controllerOptions(certs.command('rotate-root'))
    .description(
      'Start a root rotation: a new root joins the trust bundle; once every proxy trusts it, it signs and every proxy renews; ' +
        'once every proxy holds a leaf from it, the old root is dropped. `meshctl certs` shows the phase and what it waits for.',
    )
    .option('--finish', 'end the overlap now: drop the old root even if some proxy has not renewed (it is refused until it does)')
    .option('--wait', 'wait until the rotation is over (phase idle)')
    .option('--timeout <duration>', 'how long --wait waits', '120s')
    .option('--json', 'print JSON')
    .action((opts: RotateOptions) => rotate({ scope: 'root', finish: !!opts.finish }, opts));
}

async function rotate(body: { scope: 'leaves' } | { scope: 'root'; finish: boolean }, opts: RotateOptions): Promise<void> {
  const { ControllerClient } = await import('../controller-client.ts');
  const { CertsResponse, RotateResponse } = await import('../../shared/identity.ts');
  const { ProxiesResponse } = await import('../../shared/api.ts');
  const timeoutMs = parseDuration(opts.timeout, '--timeout');
  const client = await ControllerClient.connect({ url: opts.controller, token: opts.token });
  const started = await client.call('POST', '/v1/certs/rotate', RotateResponse, body);
  if (!opts.wait) return print(opts.json, started, describe(started));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const certs = await client.call('GET', '/v1/certs', CertsResponse);
    const proxies = (await client.call('GET', '/v1/proxies', ProxiesResponse)).proxies.filter((p) => p.desired);
    const behind = body.scope === 'leaves' ? leavesBehind(certs, proxies, started.leafGeneration) : (certs.rotation?.waitingFor ?? []).map((w) => `${w.proxyId} (${w.service}): ${w.reason}`);
    const done = body.scope === 'leaves' ? behind.length === 0 : certs.rotation?.phase === 'idle';
    if (done) return print(opts.json, { ...started, rotation: certs.rotation ?? started.rotation }, `${describe(started)}\ndone: every proxy renewed\n`);
    if (Date.now() > deadline) {
      throw new MeshError('MESH_ERR_UP_TIMEOUT', `certificate rotation not done after ${opts.timeout}; still waiting for: ${behind.join('; ') || 'the controller'}`, 'run `meshctl certs` and `meshctl status`; for a root rotation, `meshctl certs rotate-root --finish` ends it');
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Proxies whose last leaf is older than `generation` (matched by proxy id, else service). */
function leavesBehind(certs: CertsResponse, proxies: { proxyId: string; service: string }[], generation: number): string[] {
  const leaves = certs.leaves ?? [];
  return proxies.flatMap((p) => {
    const own = leaves.filter((l) => l.service === p.service && l.proxyId !== undefined && p.proxyId.startsWith(l.proxyId));
    const mine = own.length ? own : leaves.filter((l) => l.service === p.service && l.proxyId === undefined);
    return mine.some((l) => (l.generation ?? 0) >= generation) ? [] : [`${p.proxyId} (${p.service})`];
  });
}

function describe(r: RotateResponse): string {
  if (r.scope === 'leaves') return `every proxy renews now: leaf generation ${r.leafGeneration}\n`;
  const w = r.rotation.waitingFor;
  const phase = {
    idle: 'root rotation finished: only the new root is trusted',
    trusting: 'new root trusted; it signs once every proxy has it',
    renewing: 'new root signs; proxies renew, then the old root is dropped',
  }[r.rotation.phase];
  return `${phase}${w.length ? `\nwaiting for: ${w.map((x) => `${x.proxyId} (${x.reason})`).join('; ')}` : ''}\n`;
}

function print(json: boolean | undefined, value: unknown, text: string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text);
}
