// Lays out the image's files in a directory: the package under app/ (its
// src/ compiled to app/dist), the healthcheck binary, and for the offline
// build the runtime too: the local Node binary, the shared libraries `ldd`
// names, the dynamic loader, CA certificates and a minimal /etc.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MeshError } from '../../shared/errors.ts';
import { compileDist } from './compile-dist.ts';
import type { PackageFile } from './package-files.ts';
import { meshReadyBinaries } from './ready-probe/mesh-ready-bin.ts';

export const NODE_PATH = '/usr/local/bin/node';
/** The sidecar's and controller's healthcheck (ready-probe/mesh-ready.c), at this path in the image. */
export const MESH_READY_PATH = '/usr/local/bin/mesh-ready'; // rewrite-compose.ts names it too

function place(src: string, dest: string): void {
  mkdirSync(dirname(dest), { recursive: true });
  const real = realpathSync(src);
  try {
    // A hard link saves copying 100+ MB when the staging dir is on the same filesystem.
    linkSync(real, dest);
  } catch {
    copyFileSync(real, dest);
  }
}

/** package.json and the production node_modules as they are; src/ compiled to app/dist. Returns how dist was made. */
export function stageApp(stage: string, files: PackageFile[], root: string): string {
  for (const f of files) if (!f.rel.startsWith('src/')) place(f.abs, join(stage, 'app', f.rel));
  return compileDist(root, join(stage, 'app', 'dist'));
}

/** Where the image keeps Node's compile cache, and the environment that turns it on (portable: keys relative to the folder). */
export const COMPILE_CACHE_DIR = '/var/cache/meshctl';
export const COMPILE_CACHE_ENV = { NODE_COMPILE_CACHE: COMPILE_CACHE_DIR, NODE_COMPILE_CACHE_PORTABLE: '1' } as const;
/** The build step that fills it (warm-compile-cache.ts, compiled). */
export const WARM_SCRIPT = '/app/dist/cli/image/warm-compile-cache.js';

/**
 * Fills <stage>/var/cache/meshctl with the local Node, the one the offline image runs. The cache is
 * portable (keyed by paths relative to its folder), so what is written under <stage> hits in the
 * container, whose start then skips compiling ~650 modules. Runs with the entrypoint's Node flags: V8
 * keys its code cache by those that change code generation. False if it failed (slower starts, nothing else).
 */
export function stageCompileCache(stage: string, nodeFlags: string[], nodeBinary = process.execPath): boolean {
  const r = spawnSync(nodeBinary, [...nodeFlags, join(stage, WARM_SCRIPT)], {
    cwd: join(stage, 'app'),
    env: { ...process.env, NODE_COMPILE_CACHE: join(stage, COMPILE_CACHE_DIR), NODE_COMPILE_CACHE_PORTABLE: '1', NODE_ENV: 'production' },
    stdio: 'ignore',
    timeout: 60_000,
  });
  return r.status === 0 && existsSync(join(stage, COMPILE_CACHE_DIR));
}

/** Node's name for an architecture (x64, arm64) from Docker's (amd64, arm64) or uname's (x86_64, aarch64). */
export function nodeArch(arch: string): string {
  return ({ amd64: 'x64', x86_64: 'x64', aarch64: 'arm64' } as Record<string, string>)[arch] ?? arch;
}

/** Writes mesh-ready for `arch` at <stage>/usr/local/bin/mesh-ready; false when there is no binary for it. */
export function stageReadyProbe(stage: string, arch: string): boolean {
  const bin = meshReadyBinaries[nodeArch(arch)];
  if (!bin) return false;
  const dest = join(stage, MESH_READY_PATH);
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, Buffer.from(bin, 'base64'), { mode: 0o755 });
  chmodSync(dest, 0o755);
  return true;
}

/** Paths of the shared libraries and loader a binary needs, from `ldd`. */
export function sharedLibraries(binary: string): string[] {
  const r = spawnSync('ldd', [binary], { encoding: 'utf8' });
  if (r.status !== 0) {
    if (/not a dynamic executable/.test(r.stdout + r.stderr)) return [];
    throw new MeshError('MESH_ERR_IMAGE_BUILD', `ldd ${binary} failed: ${(r.stderr || r.stdout || String(r.error)).trim()}`, 'the offline build needs `ldd` (glibc) on this machine; use a machine with a registry, or install libc-bin');
  }
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    // "libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

export function stageRuntime(stage: string, nodeBinary = process.execPath): void {
  place(nodeBinary, join(stage, NODE_PATH));
  chmodSync(join(stage, NODE_PATH), 0o755);
  // Each library at the path ldd printed (the loader finds them there), the
  // real file even when that path is a symlink.
  for (const lib of sharedLibraries(nodeBinary)) place(lib, join(stage, lib));
  for (const certs of ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt']) {
    if (existsSync(certs)) place(certs, join(stage, certs));
  }
  mkdirSync(join(stage, 'etc'), { recursive: true });
  writeFileSync(join(stage, 'etc/passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n');
  writeFileSync(join(stage, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(stage, 'etc/nsswitch.conf'), 'hosts: files dns\n');
  mkdirSync(join(stage, 'tmp'), { recursive: true });
  chmodSync(join(stage, 'tmp'), 0o1777);
  mkdirSync(join(stage, 'root'), { recursive: true });
}
