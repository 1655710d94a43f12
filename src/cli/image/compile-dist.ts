// Compiles the package's src/ to JavaScript for the image (/app/dist), so
// containers start without type stripping: faster, and ~30 MB less resident
// per process. It always compiles from src/ into the staging folder, never
// into the checkout's dist/: the image can then never hold a stale build, and
// concurrent builds never read a half-written dist/. Types are not checked
// here (`--noCheck`, `npm run typecheck` does that); an emit takes ~0.4 s.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MeshError } from '../../shared/errors.ts';

/** The TypeScript compiler the package was installed with (a devDependency), if any. */
export function findTsc(root: string): string | undefined {
  try {
    const pkg = createRequire(join(root, 'package.json')).resolve('typescript/package.json');
    const tsc = join(dirname(pkg), 'bin', 'tsc');
    return existsSync(tsc) ? tsc : undefined;
  } catch {
    return undefined;
  }
}

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const abs = join(dir, e.name);
    if (e.isDirectory()) sources(abs, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(abs);
  }
  return out.sort();
}

/**
 * Writes <root>/src compiled to `outDir`. Without a TypeScript compiler (meshctl
 * installed without devDependencies) the package's own dist/ is used as shipped.
 * Returns how it was made, for the build log.
 */
export function compileDist(root: string, outDir: string): string {
  const tsc = findTsc(root);
  if (!tsc) {
    if (existsSync(join(root, 'dist', 'cli', 'main.js'))) {
      cpSync(join(root, 'dist'), outDir, { recursive: true, filter: (src) => !src.endsWith('.map') });
      return `no TypeScript compiler installed, so the package's dist/ as shipped`;
    }
    throw new MeshError('MESH_ERR_IMAGE_BUILD', 'the image runs compiled JavaScript, but there is neither a TypeScript compiler nor a built dist/ in the package', 'run `npm ci` (with devDependencies) or `npm run build` in the meshctl package, then build again');
  }
  // Options on the command line, not tsconfig.build.json: a copy of the package (tests) may not carry it.
  const args = [
    tsc, '--ignoreConfig', '--noCheck', '--skipLibCheck', '--pretty', 'false',
    '--target', 'es2023', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--allowImportingTsExtensions', '--rewriteRelativeImportExtensions', '--verbatimModuleSyntax', '--resolveJsonModule',
    '--rootDir', join(root, 'src'), '--outDir', outDir, '--declaration', 'false', '--sourceMap', 'false',
    ...sources(join(root, 'src')),
  ];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0 || !existsSync(join(outDir, 'cli', 'main.js'))) {
    throw new MeshError('MESH_ERR_IMAGE_BUILD', `compiling src/ for the image failed (exit ${r.status}): ${(r.stdout + r.stderr).trim().split('\n').slice(0, 5).join('; ') || r.error?.message}`, 'fix the error above (`npm run build` shows the same), then build again');
  }
  return 'src/ compiled with TypeScript';
}
