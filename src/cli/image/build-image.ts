// Builds the mesh image: from a Dockerfile on the official Node image when a
// registry is reachable, otherwise offline by importing a root filesystem
// made of the local Node, its libraries and this package (docker import).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshError } from '../../shared/errors.ts';
import { contentHash } from './content-hash.ts';
import { MESH_VERSION, PACKAGE_ROOT, defaultImageTag } from './mesh-version.ts';
import { packageFiles } from './package-files.ts';
import { registryReachable } from './registry-reachable.ts';
import { COMPILE_CACHE_ENV, MESH_READY_PATH, NODE_PATH, WARM_SCRIPT, stageApp, stageCompileCache, stageReadyProbe, stageRuntime } from './stage-files.ts';
import type { PackageFile } from './package-files.ts';

export const BASE_IMAGE = 'node:24-slim';
export const ImageLabels = { version: 'mesh.version', hash: 'mesh.content-hash', build: 'mesh.build' } as const;
/**
 * V8 flags of every meshctl process in the image that Node refuses in NODE_OPTIONS (the heap sizes are in
 * MESH_NODE_OPTIONS, compose/rewrite-compose.ts). --single-threaded-gc: V8's parallel scavenger hands work
 * to helper threads and waits for them, and on a laptop's few cores, shared with the apps and the other
 * sidecars, they wait for a CPU: a sidecar's scavenges paused it half as long without them (0.25 ms
 * instead of 0.5 at max load, `node bench/profile-proxy.ts`), for 2-3 % less CPU per request. The compile
 * cache does not depend on it (V8 leaves it out of the flag hash).
 */
export const IMAGE_V8_FLAGS = ['--single-threaded-gc'];
/** The compiled package (src/ is compiled into the image at build time, see compile-dist.ts). */
// --disable-warning: the controller loads the user's mesh.config.ts with type stripping, which Node 22 calls experimental.
export const ENTRYPOINT = [NODE_PATH, '--disable-warning=ExperimentalWarning', ...IMAGE_V8_FLAGS, '/app/dist/cli/main.js'];

export interface BuildOptions {
  tag?: string;
  /** true: offline; false: Dockerfile (needs the base image or a registry); undefined: detect. */
  offline?: boolean;
  log?: (line: string) => void;
  packageRoot?: string;
  /** Base of the Dockerfile build (default node:24-slim); tests use a local stand-in. */
  baseImage?: string;
  /** The package's files and their hash, when the caller already listed and hashed them (ensureImage). */
  files?: PackageFile[];
  hash?: string;
}

export interface BuildResult {
  tag: string;
  mode: 'offline' | 'dockerfile';
  hash: string;
  /** Why this mode was chosen, for the user. */
  reason: string;
}

function run(cmd: string, args: string[], opts: { input?: NodeJS.ReadableStream } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    if (opts.input) opts.input.pipe(child.stdin!);
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => reject(new MeshError('MESH_ERR_DOCKER_UNAVAILABLE', `could not run ${cmd}: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new MeshError('MESH_ERR_IMAGE_BUILD', `\`${cmd} ${args.slice(0, 2).join(' ')}\` failed (exit ${code}): ${err.trim().split('\n').slice(-5).join('; ')}`))));
  });
}

function labels(hash: string, mode: BuildResult['mode']): Record<string, string> {
  return { [ImageLabels.version]: MESH_VERSION, [ImageLabels.hash]: hash, [ImageLabels.build]: mode };
}

async function buildOffline(stage: string, tag: string, hash: string, log: (l: string) => void): Promise<void> {
  stageRuntime(stage);
  if (!stageReadyProbe(stage, process.arch)) log(`no ${MESH_READY_PATH} for ${process.arch}: sidecar healthchecks fall back to node -e`);
  // The image runs this very Node binary, so its compile cache can be filled here.
  if (!stageCompileCache(stage, ENTRYPOINT.slice(1, -1))) log('could not fill the compile cache: containers compile their modules at start');
  const changes = [
    `ENTRYPOINT ${JSON.stringify(ENTRYPOINT)}`,
    'CMD ["--help"]',
    'WORKDIR /app',
    'ENV NODE_ENV=production',
    ...Object.entries(COMPILE_CACHE_ENV).map(([k, v]) => `ENV ${k}=${v}`),
    ...Object.entries(labels(hash, 'offline')).map(([k, v]) => `LABEL ${k}=${v}`),
  ];
  // Staged files are hard links (stage-files.ts): another build linking the same node binary at the same
  // time changes its ctime (link count), which GNU tar reports as "file changed as we read it" and exit 1.
  // The content cannot change, so that is not a failure; real errors exit 2.
  const tar = spawn('tar', ['-C', stage, '--numeric-owner', '--owner=0', '--group=0', '--warning=no-file-changed', '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const tarDone = new Promise<void>((resolve, reject) => tar.on('close', (c) => (c === 0 || c === 1 ? resolve() : reject(new MeshError('MESH_ERR_IMAGE_BUILD', `tar exited ${c} while packing the root filesystem`)))));
  await Promise.all([run('docker', ['import', ...changes.flatMap((c) => ['--change', c]), '-', tag], { input: tar.stdout! }), tarDone]);
}

async function buildDockerfile(stage: string, tag: string, hash: string, base: string, log: (l: string) => void): Promise<void> {
  const arch = spawnSync('docker', ['version', '-f', '{{.Server.Arch}}'], { encoding: 'utf8' }).stdout?.trim() || process.arch;
  const probe = stageReadyProbe(stage, arch);
  if (!probe) log(`no ${MESH_READY_PATH} for ${arch}: sidecar healthchecks fall back to node -e`);
  const dockerfile = [
    `FROM ${base}`,
    'COPY app /app',
    ...(probe ? [`COPY ${MESH_READY_PATH.slice(1)} ${MESH_READY_PATH}`] : []),
    'WORKDIR /app',
    'ENV NODE_ENV=production',
    ...Object.entries(COMPILE_CACHE_ENV).map(([k, v]) => `ENV ${k}=${v}`),
    // The base image's Node may differ from this one, so its compile cache is filled inside the build.
    `RUN ${JSON.stringify([...ENTRYPOINT.slice(0, -1), WARM_SCRIPT])}`,
    ...Object.entries(labels(hash, 'dockerfile')).map(([k, v]) => `LABEL ${k}="${v}"`),
    `ENTRYPOINT ${JSON.stringify(ENTRYPOINT)}`,
    'CMD ["--help"]',
  ].join('\n');
  writeFileSync(join(stage, 'Dockerfile'), dockerfile + '\n');
  await run('docker', ['build', '-q', '-t', tag, stage]);
}

export async function buildImage(opts: BuildOptions = {}): Promise<BuildResult> {
  const tag = opts.tag ?? defaultImageTag();
  const log = opts.log ?? (() => {});
  const root = opts.packageRoot ?? PACKAGE_ROOT;
  const files = opts.files ?? packageFiles(root);
  const hash = opts.hash ?? contentHash(files);
  let mode: BuildResult['mode'];
  let reason: string;
  if (opts.offline === true) [mode, reason] = ['offline', '--offline was given'];
  else if (opts.offline === false) [mode, reason] = ['dockerfile', '--online was given'];
  else {
    const reach = await registryReachable(opts.baseImage ?? BASE_IMAGE);
    [mode, reason] = reach.ok ? ['dockerfile', reach.why] : ['offline', `${reach.why}, so building offline from the local Node ${process.version}`];
  }
  log(`building ${tag} (${mode}: ${reason})`);
  const previous = imageId(tag);
  const stage = mkdtempSync(join(tmpdir(), 'mesh-image-'));
  try {
    log(`app: ${stageApp(stage, files, root)}`);
    if (mode === 'dockerfile') {
      try {
        await buildDockerfile(stage, tag, hash, opts.baseImage ?? BASE_IMAGE, log);
      } catch (err) {
        if (opts.offline === false) throw err;
        log(`the Dockerfile build failed (${(err as Error).message}); building offline instead`);
        [mode, reason] = ['offline', 'the Dockerfile build failed'];
        await buildOffline(stage, tag, hash, log);
      }
    } else {
      await buildOffline(stage, tag, hash, log);
    }
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  // The build moved the tag; drop the old mesh image rather than leave it dangling
  // (no -f: an image a container still uses stays).
  if (previous && previous !== imageId(tag)) spawnSync('docker', ['image', 'rm', previous], { stdio: 'ignore' });
  return { tag, mode, hash, reason };
}

function imageId(tag: string): string | undefined {
  const r = spawnSync('docker', ['image', 'inspect', '-f', '{{.Id}}', tag], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}
