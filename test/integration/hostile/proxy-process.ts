// A real proxy in its own process (`meshctl proxy --config file.json`), so a
// test can read the proxy's own memory (RSS from /proc) and its access log
// (stdout) while it is attacked, without the test's allocations mixed in.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../src/cli/up/host-ports.ts';
import type { SnapshotInput } from '../../../src/shared/snapshot.ts';
import { eventually } from '../../harness/eventually.ts';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

export interface ProxyProcess {
  child: ChildProcess;
  port: number;
  adminPort: number;
  /** Resident set size of the proxy process now, bytes. */
  rss(): number;
  /** Parsed access-log lines so far. */
  logs(): Record<string, unknown>[];
  stderr(): string;
  close(): Promise<void>;
}

/** Starts a proxy whose first listener is bound to a free loopback port (its `port: 0` is replaced). */
export async function startProxyProcess(snap: SnapshotInput, { heapMb, env = {} }: { heapMb?: number; env?: Record<string, string> } = {}): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-hostile-'));
  const port = await freePort();
  const adminPort = await freePort();
  const listeners = (snap.listeners ?? []).map((l, i) => (i === 0 ? { ...l, port } : l));
  const file = join(dir, 'snapshot.json');
  writeFileSync(file, JSON.stringify({ ...snap, listeners }));
  const child = spawn(process.execPath, [...(heapMb ? [`--max-old-space-size=${heapMb}`] : []), MAIN, 'proxy', '--config', file, '--admin', `127.0.0.1:${adminPort}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const handle: ProxyProcess = {
    child,
    port,
    adminPort,
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024,
    logs: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stderr: () => err,
    async close() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`proxy exited ${child.exitCode}: ${err}`);
        const r = await fetch(`http://127.0.0.1:${adminPort}/ready`);
        if (r.status !== 200) throw new Error(`ready ${r.status}`);
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (e) {
    await handle.close();
    throw e;
  }
  return handle;
}
