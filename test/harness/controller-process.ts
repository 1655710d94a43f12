// Runs `meshctl controller` as a child process with static discovery from
// <dir>/workloads.json and config from <dir>/mesh.config.json, killed in t.after.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOKEN } from './controller-harness.ts';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

type T = { after(fn: () => Promise<void> | void): void };

/** Resolves with the controller's URL (and mTLS push URL, with --push-listen in extraArgs) once it logs that it listens. */
export function controllerProcess(t: T, dir: string, port: number, extraArgs: string[] = []): Promise<{ url: string; pushUrl?: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [main, 'controller', '--project', 'it', '--discovery', `static:${join(dir, 'workloads.json')}`, '--listen', `127.0.0.1:${port}`,
      '--state-dir', join(dir, 'state'), '--config', join(dir, 'mesh.config.json'), '--token', TOKEN, ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (c) => (err += c));
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /"url":"([^"]+)"/.exec(out);
      const push = /"pushUrl":"([^"]+)"/.exec(out);
      if (m) resolve({ url: m[1]!, ...(push ? { pushUrl: push[1]! } : {}), child });
    });
    child.on('exit', (code) => reject(new Error(`controller exited ${code}: ${err}`)));
  });
}
