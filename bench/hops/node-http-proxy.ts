// node-http-proxy (the `http-proxy` package) as a hop, in its own process.
import { fileURLToPath } from 'node:url';
import { freePort, tcpReachable, waitUntil } from '../lib/net.ts';
import type { HopContext, StartedHop } from './hop.ts';

const script = fileURLToPath(new URL('./node-http-proxy-server.ts', import.meta.url));

export async function startNodeHttpProxyHop(ctx: HopContext): Promise<StartedHop> {
  const port = await freePort();
  const name = `node-http-proxy hop ${ctx.index}`;
  const p = ctx.procs.start(name, process.execPath, [script, String(port), `http://${ctx.target.host}:${ctx.target.port}`]);
  await waitUntil(() => tcpReachable(port), {
    what: `${name} listening on ${port}`,
    stop: () => (p.child.exitCode !== null ? `${name} exited (${p.child.exitCode}): ${p.tail().slice(-400)}` : undefined),
  });
  return { listen: { host: '127.0.0.1', port }, process: p };
}
