// `--meshctl build`: compile src/ with tsconfig.build.json into
// bench/results/pkg/dist (gitignored) and run that, so the hops run compiled
// JS as a container does, from the current source rather than a stale dist/.
// The build sits one level under a copy of package.json, as dist/ does
// (mesh-version.ts reads it relatively); node_modules resolve from the repo.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Compiles and returns the CLI entry of the build. Type errors are reported but do not stop the emit. */
export function buildMeshctl(log: (s: string) => void): string {
  const pkgDir = join(repoRoot, 'bench/results/pkg');
  const outDir = join(pkgDir, 'dist');
  mkdirSync(pkgDir, { recursive: true });
  copyFileSync(join(repoRoot, 'package.json'), join(pkgDir, 'package.json'));
  const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir, '--sourceMap', 'false'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const out = String((err as { stdout?: Buffer }).stdout ?? '').trim();
    log(`note: tsc reported errors while building the hops (emitted anyway):\n${out.split('\n').slice(0, 5).join('\n')}`);
  }
  return join(outDir, 'cli/main.js');
}
