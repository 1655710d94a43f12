// Every process the bench starts, so all of them die at the end: normal exit,
// Ctrl-C, SIGTERM or an uncaught error. Killing is synchronous (SIGKILL) in
// the exit hook because an 'exit' listener cannot await.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Started {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Last lines the process wrote on stderr (and stdout when captured), for error messages. */
  tail(): string;
  /** Resolves when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export class ProcessGroup {
  private readonly live = new Set<ChildProcess>();
  private readonly history: Started[] = [];

  constructor() {
    const killAll = () => this.killNow();
    process.on('exit', killAll);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => {
        killAll();
        process.exit(130);
      });
    }
    process.on('uncaughtException', (err) => {
      killAll();
      console.error(err);
      process.exit(1);
    });
  }

  /** Spawn a tracked process; stdout is discarded unless captureStdout (access logs would fill a pipe). */
  start(name: string, cmd: string, args: string[], opts: SpawnOptions & { captureStdout?: boolean } = {}): Started {
    const { captureStdout, ...spawnOpts } = opts;
    const child = spawn(cmd, args, {
      stdio: ['ignore', captureStdout ? 'pipe' : 'ignore', 'pipe'],
      ...spawnOpts,
    });
    this.live.add(child);
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-2000);
    };
    child.stderr?.on('data', keep);
    if (captureStdout) child.stdout?.on('data', keep);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('error', (err) => {
        keep(Buffer.from(String(err.message)));
        this.live.delete(child);
        resolve({ code: -1, signal: null });
      });
      child.once('exit', (code, signal) => {
        this.live.delete(child);
        resolve({ code, signal });
      });
    });
    const started = { name, child, pid: child.pid ?? -1, tail: () => tail.trim(), exited };
    this.history.push(started);
    return started;
  }

  /** A mark to pass to stopSince(): everything started after it belongs to one scenario. */
  mark(): number {
    return this.history.length;
  }

  /** Stop every process started since mark, including ones whose start failed half-way. */
  async stopSince(mark: number): Promise<void> {
    await Promise.all(this.history.slice(mark).map((p) => this.stop(p)));
  }

  /** Stop one process: SIGTERM, then SIGKILL if it lingers (the proxy drains for 20 s by default). */
  async stop(p: Started, graceMs = 300): Promise<void> {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill('SIGTERM');
    const done = await Promise.race([p.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((child) => {
      child.kill('SIGKILL');
      return new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
    }));
  }

  killNow(): void {
    for (const child of this.live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    this.live.clear();
  }
}
