// The files of this package that go into the mesh image: package.json, src/
// (run directly with Node's type stripping, so no build step is needed) and
// the production dependencies, found by walking `dependencies` the way Node
// resolves them. devDependencies, tests, bench and docs stay out.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { MeshError } from '../../shared/errors.ts';

export interface PackageFile {
  abs: string;
  /** Path inside /app, with forward slashes. */
  rel: string;
}

// Files no running program reads.
const skipFile = /(\.(md|markdown|map|d\.ts|d\.mts|d\.cts|tsbuildinfo)|^(LICENSE|LICENCE|CHANGELOG|HISTORY)[^/]*)$/i;

function walk(dir: string, root: string, out: PackageFile[], skipNodeModules: boolean): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const abs = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (skipNodeModules && entry.name === 'node_modules') continue;
      if (entry.name === '.github') continue;
      walk(abs, root, out, skipNodeModules);
    } else if ((entry.isFile() || entry.isSymbolicLink()) && !skipFile.test(entry.name)) {
      if (entry.isSymbolicLink() && !existsSync(abs)) continue;
      out.push({ abs, rel: relative(root, abs).split(sep).join('/') });
    }
  }
}

interface Manifest {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function manifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** Node's lookup: <from>/node_modules/<name>, then each parent's, up to the package root. */
function resolveDep(name: string, from: string, root: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || dirname(dir) === dir) return undefined;
  }
}

/** Directories of every production dependency, transitively. Missing optional/peer ones are skipped. */
export function productionDependencies(root: string): string[] {
  const found = new Set<string>();
  const queue: string[] = [root];
  while (queue.length) {
    const dir = queue.shift()!;
    const m = manifest(dir);
    const required = Object.keys(m.dependencies ?? {});
    const maybe = [...Object.keys(m.optionalDependencies ?? {}), ...Object.keys(m.peerDependencies ?? {})];
    for (const name of [...required, ...maybe]) {
      // Type declarations only (some packages list @types/node as a dependency).
      if (name.startsWith('@types/')) continue;
      const at = resolveDep(name, dir, root);
      if (!at) {
        if (required.includes(name) && !maybe.includes(name)) {
          throw new MeshError('MESH_ERR_IMAGE_BUILD', `dependency ${name} of ${relative(root, dir) || 'the package'} is not installed`, 'run `npm ci --omit=dev` (or `npm ci`) in the package, then build again');
        }
        continue;
      }
      if (!found.has(at)) {
        found.add(at);
        queue.push(at);
      }
    }
  }
  return [...found].sort();
}

export function packageFiles(root: string): PackageFile[] {
  const out: PackageFile[] = [{ abs: join(root, 'package.json'), rel: 'package.json' }];
  walk(join(root, 'src'), root, out, false);
  for (const dep of productionDependencies(root)) walk(dep, root, out, true);
  return out.filter((f) => statSync(f.abs).isFile()).sort((a, b) => (a.rel < b.rel ? -1 : 1));
}
