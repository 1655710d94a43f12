// Runs one compose command (config, up, down, ps, ...) for a project and turns
// its failures into MeshErrors that say what went wrong and what to do.
import { spawn } from 'node:child_process';
import type { ComposeCli } from './compose-cli.ts';
import { composeError } from './compose-error.ts';

export interface ComposeRun {
  files: string[];
  /** Always passed: without it compose names the project after `.mesh/`. */
  project?: string;
  projectDirectory?: string;
  profiles?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Stream output to our stdout/stderr as well as capturing it. */
  inherit?: boolean;
}

export interface ComposeResult {
  stdout: string;
  stderr: string;
}

export function composeArgv(cli: ComposeCli, run: ComposeRun, args: string[]): string[] {
  const argv = [...cli.command];
  if (run.project) argv.push('-p', run.project);
  if (run.projectDirectory) argv.push('--project-directory', run.projectDirectory);
  for (const f of run.files) argv.push('-f', f);
  for (const p of run.profiles ?? []) argv.push('--profile', p);
  return [...argv, ...args];
}

/** Runs compose; resolves with its output, rejects with a MeshError naming the cause. */
export function runCompose(cli: ComposeCli, run: ComposeRun, args: string[]): Promise<ComposeResult> {
  const argv = composeArgv(cli, run, args);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: run.cwd,
      env: { ...process.env, ...run.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (run.inherit) process.stdout.write(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (run.inherit) process.stderr.write(d);
    });
    child.on('error', (err) => reject(composeError(argv, null, String(err))));
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(composeError(argv, code, stderr || stdout));
    });
  });
}

/** The compose commands meshctl needs, named. */
export const compose = {
  up: (cli: ComposeCli, run: ComposeRun, extra: string[] = []) => runCompose(cli, run, ['up', '-d', '--remove-orphans', ...extra]),
  down: (cli: ComposeCli, run: ComposeRun, extra: string[] = []) => runCompose(cli, run, ['down', '--remove-orphans', ...extra]),
};
