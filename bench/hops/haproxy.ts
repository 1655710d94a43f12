// HAProxy from Debian as a hop (mode http or tcp) or as the fixed upstream.
// nbthread 1: the comparison is per event loop, like one Node process.
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessGroup, Started } from '../lib/process-group.ts';
import { freePort, tcpReachable, waitUntil } from '../lib/net.ts';
import { HopUnavailable, type HopContext, type StartedHop, type Address } from './hop.ts';

export const HAPROXY = '/usr/sbin/haproxy';

const globalAndDefaults = (mode: 'http' | 'tcp') => `global
  nbthread 1
  maxconn 4096

defaults
  mode ${mode}
  timeout connect 5s
  timeout client 60s
  timeout server 60s
`;

export async function startHaproxyHop(ctx: HopContext, mode: 'http' | 'tcp'): Promise<StartedHop> {
  const port = await freePort();
  const cfg = `${globalAndDefaults(mode)}
frontend hop
  bind 127.0.0.1:${port}
  default_backend next

backend next
  server next ${ctx.target.host}:${ctx.target.port}
`;
  const proc = await runHaproxy(ctx.procs, join(ctx.tmpDir, `haproxy-hop${ctx.index}-${mode}.cfg`), cfg, `haproxy hop ${ctx.index}`, port);
  return { listen: { host: '127.0.0.1', port }, process: proc };
}

/** The fixed upstream: answers every request with the same body, from memory. */
export async function startHaproxyUpstream(procs: ProcessGroup, tmpDir: string, body: Buffer): Promise<{ address: Address; process: Started }> {
  const port = await freePort();
  const bodyFile = join(tmpDir, 'upstream-body.txt');
  writeFileSync(bodyFile, body);
  const cfg = `${globalAndDefaults('http')}
frontend upstream
  bind 127.0.0.1:${port}
  http-request return status 200 content-type text/plain file ${bodyFile}
`;
  const proc = await runHaproxy(procs, join(tmpDir, 'haproxy-upstream.cfg'), cfg, 'upstream (haproxy)', port);
  return { address: { host: '127.0.0.1', port }, process: proc };
}

async function runHaproxy(procs: ProcessGroup, cfgFile: string, cfg: string, name: string, port: number): Promise<Started> {
  if (!existsSync(HAPROXY)) throw new HopUnavailable(`${HAPROXY} not found (apt-get install haproxy)`);
  writeFileSync(cfgFile, cfg);
  // -db: stay in the foreground, so the pid we hold is the one doing the work.
  const p = procs.start(name, HAPROXY, ['-db', '-f', cfgFile]);
  await waitUntil(() => tcpReachable(port), {
    what: `${name} listening on ${port}`,
    stop: () => (p.child.exitCode !== null ? `${name} exited (${p.child.exitCode}): ${p.tail().slice(-400)}` : undefined),
  });
  return p;
}
