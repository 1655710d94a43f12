// The shop example on real Docker for the fault scenarios: up with
// inventory ×3, the steady load through web, and the Docker moves the faults
// are made of (kill, stop, remove, scale, a crash from the host, a cut of the
// controller's connection to the engine).
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findCompose } from '../src/cli/compose/compose-cli.ts';
import { runCompose } from '../src/cli/compose/run-compose.ts';
import { ControllerClient } from '../src/cli/controller-client.ts';
import { docker, shopProject } from '../test/harness/shop-project.ts';
import { eventually } from '../test/harness/eventually.ts';
import { startLoad, type RunningLoad } from './load.ts';

export type Shop = Awaited<ReturnType<typeof startShop>>;

// argv: pid fd...; prints how many sockets it shut down.
const CUT_FDS_PY = `
import ctypes, os, socket, sys
pid = int(sys.argv[1]); libc = ctypes.CDLL(None, use_errno=True); pidfd = os.pidfd_open(pid); n = 0
for fd in map(int, sys.argv[2:]):
    dup = libc.syscall(438, pidfd, fd, 0)  # pidfd_getfd
    if dup < 0: continue
    s = socket.socket(fileno=dup)
    try:
        s.shutdown(socket.SHUT_RDWR); n += 1
    except OSError:
        pass
    s.detach(); os.close(dup)
print(n)
`;

/** Every GET the load sends; /buy crosses web → order → inventory + payment, / crosses web → product. */
export const LOAD_PATHS = ['/buy?sku=mug', '/'];

/** A container main process's unix sockets: fd → socket inode. */
function unixSockets(id: string): { pid: string; sockets: Map<string, string> } {
  const pid = docker('inspect', '-f', '{{.State.Pid}}', id).stdout.trim();
  const unix = new Set(readFileSync(`/proc/${pid}/net/unix`, 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)[6]).filter(Boolean));
  const sockets = new Map<string, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && unix.has(m[1]!)) sockets.set(fd, m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return { pid, sockets };
}

/** What the crash and cut moves need: root (they act on containers' processes from the host's /proc) and python3. */
export function missingForProcessFaults(): string | undefined {
  if (process.getuid?.() !== 0) return 'root is needed to act on containers\' processes from the host';
  if (spawnSync('python3', ['-c', 'import os; os.pidfd_open'], { stdio: 'ignore' }).status !== 0) return 'python3 (3.9+) is needed for pidfd_getfd';
  return undefined;
}

export async function startShop(log: (line: string) => void) {
  const shop = shopProject('rel');
  const cli = findCompose();
  if (!cli) throw new Error('docker-compose is needed');
  const files = [join(shop.dir, '.mesh', 'compose.yaml')];
  const up = await shop.up();
  if (up.code !== 0) {
    await shop.down();
    throw new Error(`meshctl up failed:\n${up.stderr}`);
  }
  log(`shop up in ${up.seconds.toFixed(1)} s (project ${shop.project})`);
  const env = () => ({ SHOP_PORT: String(shop.webPort), MESH_IMAGE: shop.image });
  const scaled = await shop.meshctl(['up', '-p', shop.project, '--image', shop.image, '--no-build', '--scale', 'inventory=3', '--json'], env());
  if (scaled.code !== 0) {
    await shop.down();
    throw new Error(`meshctl up --scale inventory=3 failed:\n${scaled.stderr}`);
  }
  const client = await ControllerClient.connect({ dir: shop.dir });
  const ids = (service: string) => shop.containers(`com.docker.compose.service=${service}`);
  const compose = (args: string[]) => runCompose(cli, { files, project: shop.project, env: env() }, args);

  let current: RunningLoad | undefined;
  const self = {
    shop,
    client,
    ids,
    compose,
    base: `http://127.0.0.1:${shop.webPort}`,
    load(rate: number): RunningLoad {
      return (current = startLoad({
        base: self.base,
        paths: LOAD_PATHS,
        rate,
        pick: { pathPrefix: '/buy', json: ['order', 'inventory', 'replica'] },
      }));
    },
    /** The samples of the load running now, so far. */
    shopSamples: () => current?.samples ?? [],
    /** docker, without blocking the event loop (the load keeps its pace meanwhile). */
    docker: (args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile('docker', args, { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`docker ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout))),
      ),
    /** Replicas of inventory back to `n` without touching the others (compose names the new one). */
    async scaleInventory(n: number) {
      await compose(['up', '-d', '--no-deps', '--no-recreate', '--scale', `inventory=${n}`, 'inventory']);
      await eventually(() => {
        if (ids('inventory').length !== n) throw new Error(`inventory has ${ids('inventory').length} replicas, not ${n}`);
      }, { timeoutMs: 60_000, intervalMs: 250 });
    },
    /** Every proxy connected and on the controller's current snapshot. */
    async inSync(timeoutMs = 60_000) {
      await eventually(async () => {
        const { proxies } = await client.proxies();
        const bad = proxies.filter((p) => !p.connected || !p.inSync);
        if (proxies.length === 0 || bad.length) throw new Error(`proxies not in sync: ${bad.map((p) => p.proxyId).join(', ')}`);
      }, { timeoutMs, intervalMs: 250 });
    },
    /** n sequential good answers in a row: the state a scenario starts from. */
    async healthy(n = 10) {
      await eventually(async () => {
        for (let i = 0; i < n; i++) {
          const r = await fetch(`${self.base}${LOAD_PATHS[i % 2]}`, { signal: AbortSignal.timeout(10_000) });
          await r.arrayBuffer();
          if (r.status !== 200) throw new Error(`status ${r.status}`);
        }
      }, { timeoutMs: 90_000, intervalMs: 500 });
    },
    hostname: (id: string) => docker('inspect', '-f', '{{.Config.Hostname}}', id).stdout.trim(),
    ip: (id: string) => Object.values(JSON.parse(docker('inspect', '-f', '{{json .NetworkSettings.Networks}}', id).stdout || '{}') as Record<string, { IPAddress: string }>).map((n) => n.IPAddress).join(','),
    /** When the container's process started (ms since epoch): the mesh's clock starts there, not at compose's. */
    startedAt: (id: string) => Date.parse(docker('inspect', '-f', '{{.State.StartedAt}}', id).stdout.trim()),
    running: (id: string) => docker('inspect', '-f', '{{.State.Running}}', id).stdout.trim() === 'true',
    restarts: (id: string) => Number(docker('inspect', '-f', '{{.RestartCount}}', id).stdout.trim()),
    /** A crash, not a `docker kill`: SIGKILL to the container's main process from the host, so the restart policy applies. */
    crash(id: string) {
      const pid = docker('inspect', '-f', '{{.State.Pid}}', id).stdout.trim();
      process.kill(Number(pid), 'SIGKILL');
    },
    /**
     * Cuts the controller's connections to the Docker engine as a daemon restart would: pidfd_getfd(2)
     * duplicates each of the controller process's unix sockets (the only ones it has lead to
     * /var/run/docker.sock) and shutdown(2) on the duplicate ends the connection under the controller, so
     * its event stream sees EOF. python3 makes the two system calls Node has no binding for. Returns how
     * many it cut.
     */
    cutEngineConnections(controllerId: string): number {
      const { pid, sockets } = unixSockets(controllerId);
      const fds = [...sockets.keys()];
      if (fds.length === 0) return 0;
      const out = execFileSync('python3', ['-c', CUT_FDS_PY, pid, ...fds], { encoding: 'utf8', timeout: 30_000 });
      return Number(out.trim().split('\n').at(-1));
    },
    /** Inodes of the controller's unix sockets (its connections to the engine): a new one means it reconnected. */
    engineConnections: (controllerId: string) => new Set(unixSockets(controllerId).sockets.values()),
    async down() {
      await shop.down();
    },
  };
  await self.inSync();
  await self.healthy();
  await sleep(500);
  return self;
}
