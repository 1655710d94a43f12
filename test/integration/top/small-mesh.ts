// The web → product mesh of test/harness, with a load batch of known
// success rate (75 %) and the CLI arguments that reach its controller.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { startWebProductMesh } from '../../harness/web-product-mesh.ts';

export const MESHCTL = join(import.meta.dirname, '../../../src/cli/main.ts');

type T = { after(fn: () => Promise<void> | void): void };

/** Runs meshctl without blocking this process's event loop (the controller and proxies live here). */
export function meshctl(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MESHCTL, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

export async function startSmallMesh(t: T) {
  const mesh = await startWebProductMesh(t);
  /** Four requests, one failing: 75 % success. */
  const batch = async () => {
    for (let i = 0; i < 3; i++) assert.equal(await mesh.get('/'), 200);
    assert.equal(await mesh.get('/fail'), 503);
  };
  return { ...mesh, batch, cli: ['--controller', mesh.url, '--token', mesh.token] };
}
