// `meshctl up`: check, build the image if needed, write .mesh/compose.yaml
// (the rewrite plus the controller), start it with compose, wait until every
// sidecar has ACKed its snapshot, print what runs. Running it again converges:
// the generated file only changes where the input did, and compose recreates
// only what changed.
import { existsSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { MeshError } from '../../shared/errors.ts';
import { requireCompose } from '../compose/compose-cli.ts';
import { inject } from '../compose/inject.ts';
import { findComposeFile, projectNameFrom } from '../compose/load-compose.ts';
import { compose } from '../compose/run-compose.ts';
import { MESH_NETWORK } from '../compose/rewrite-compose.ts';
import { ensureImage, imageLabels } from '../image/ensure-image.ts';
import { defaultImageTag } from '../image/mesh-version.ts';
import { ControllerClient } from '../controller-client.ts';
import { withObservability } from '../compose/observability-up.ts';
import { parseDuration } from '../parse-duration.ts';
import { ServiceTokens } from '../../controller/certs/service-tokens.ts';
import { CONTROLLER_PORT, CONTROLLER_PUSH_PORT, CONTROLLER_SERVICE, controllerService } from './controller-service.ts';
import { engineVersion, projectContainers, publishedPorts } from './docker-facts.ts';
import { freePort, portBusy, publishedHostPorts } from './host-ports.ts';
import { bootstrapToken, readUpState, stateDirOf, writeUpState } from './mesh-state.ts';
import { summarise, formatSummary, type ServiceRow } from './summary.ts';
import { waitForSync, type SyncProgress } from './wait-for-sync.ts';
import { followProjectEvents } from './debug-events.ts';
import { loadMeshConfigOrThrow } from '../../controller/config/load-config.ts';

export interface UpOptions {
  file?: string[];
  config?: string;
  project?: string;
  exclude?: string[];
  timeout?: string;
  scale?: string[];
  image?: string;
  /** false (--no-build): use the image as it is, never rebuild (tests build it once). */
  build?: boolean;
  json?: boolean;
  /** --observability: add Prometheus, Grafana and Jaeger (those whose image can be had; see compose/observability-up.ts). */
  observability?: boolean;
  /** Also print the project's container events as they happen (MESH_DEBUG=1 does the same). */
  verbose?: boolean;
}

export interface UpResult {
  project: string;
  output: string;
  controller: string;
  services: ServiceRow[];
  seconds: number;
}

export function composeFiles(file?: string[]): string[] {
  return file?.length ? file.map((f) => resolve(f)) : [resolve(findComposeFile())];
}

/**
 * The project name `up` uses: -p, else the folder's name, normalised as compose itself does
 * (lower case, [a-z0-9_-] only), so the label the controller filters on is the one compose writes.
 */
export function upProjectName(option: string | undefined, projectDir: string): string {
  const project = projectNameFrom(option ?? basename(projectDir));
  if (!project) throw new MeshError('MESH_ERR_USAGE', `cannot derive a compose project name from ${option !== undefined ? `-p "${option}"` : `the folder "${basename(projectDir)}"`}`, 'pass -p with letters, digits, - or _');
  return project;
}

export async function runUp(opts: UpOptions, log: (line: string) => void = (l) => process.stderr.write(l + '\n'), started = Date.now()): Promise<UpResult> {
  const say = (line: string) => log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
  const timeoutMs = parseDuration(opts.timeout ?? '120s', '--timeout');
  const files = composeFiles(opts.file);
  const projectDir = dirname(files[0]!);

  // 1. Checks, before anything changes.
  const engine = engineVersion();
  if (!engine.ok) throw new MeshError('MESH_ERR_DOCKER_UNAVAILABLE', `the Docker engine cannot be reached: ${engine.why}`);
  const cli = requireCompose();
  say(`checks: Docker engine ${engine.version}, compose ${cli.kind} ${cli.version} (${cli.command.join(' ')})`);
  const image = opts.image ?? defaultImageTag();
  // The shop (and any file written like it) names the mesh image through $MESH_IMAGE.
  process.env.MESH_IMAGE ??= image;
  const previous = readUpState(projectDir);
  const stateDir = stateDirOf(projectDir);
  const configFile = opts.config ? resolve(opts.config) : ['mesh.config.ts', 'mesh.config.js', 'mesh.config.mjs', 'mesh.config.json'].map((n) => join(projectDir, n)).find((f) => existsSync(f));
  if (opts.config && !existsSync(configFile!)) throw new MeshError('MESH_ERR_FILE_NOT_FOUND', `--config ${opts.config}: file not found`);
  // The controller reads the config inside its container; check it here first, so a mistake is named (exit 2)
  // before anything is written or started. Service names are checked against a single compose file only.
  await loadMeshConfigOrThrow({ configPath: configFile, composePath: files.length === 1 ? files[0] : undefined, cwd: projectDir });
  const token = bootstrapToken(projectDir);

  // The rewrite goes to a staging file first, so a failed check leaves the last good output.
  // Compose's own rule on the folder name; a top-level `name:` can differ, which the load below reveals.
  const project = upProjectName(opts.project, projectDir);
  const running = projectContainers(project);
  const ours = new Set(running.flatMap(publishedPorts).map((a) => Number(a.split(':').pop())));
  const controllerPort = previous && (ours.has(previous.controllerPort) || !(await portBusy('127.0.0.1', previous.controllerPort))) ? previous.controllerPort : await freePort();
  const staging = '.compose.next.yaml';
  const signTokens = await ServiceTokens.open(stateDir, project);
  const injected = await inject({
    files,
    output: staging,
    project,
    image,
    exclude: opts.exclude,
    // MESH_TOKEN: the service's own sign token (HMAC keyed in .mesh/ca), so a sidecar can get its own identity only.
    // MESH_CONTROLLER_URL: the bootstrap listener (sign with the token); MESH_CONTROLLER_PUSH_URL: push over mTLS with that certificate.
    sidecarEnv: (service) => ({
      MESH_CONTROLLER_URL: `http://${CONTROLLER_SERVICE}:${CONTROLLER_PORT}`,
      MESH_CONTROLLER_PUSH_URL: `https://${CONTROLLER_SERVICE}:${CONTROLLER_PUSH_PORT}`,
      MESH_BOOTSTRAP_TOKEN: token,
      MESH_TOKEN: signTokens.tokenFor(service),
    }),
    // --observability adds its services, and points the controller's default span export at Jaeger.
    extraServices: await withObservability(opts.observability, {
      [CONTROLLER_SERVICE]: controllerService({ project, image, token, hostPort: controllerPort, stateDir, configFile, meshNetwork: MESH_NETWORK }),
    }, { project, stateDir, meshNetwork: MESH_NETWORK, controller: { service: CONTROLLER_SERVICE, port: CONTROLLER_PORT }, log: say }),
  }).catch((err) => {
    rmSync(join(stateDir, staging), { force: true });
    throw err;
  });
  if (!opts.project && injected.project !== project) {
    rmSync(injected.output, { force: true });
    return runUp({ ...opts, project: injected.project }, log, started);
  }
  const mine = injected.project === project ? ours : new Set(projectContainers(injected.project).flatMap(publishedPorts).map((a) => Number(a.split(':').pop())));
  const busy: string[] = [];
  for (const p of publishedHostPorts(injected.input)) {
    if (mine.has(p.port)) continue;
    const why = await portBusy(p.host, p.port);
    if (why) busy.push(`${p.host}:${p.port} (service ${p.service}, container port ${p.target}): ${why}`);
  }
  if (busy.length) {
    rmSync(injected.output, { force: true });
    throw new MeshError('MESH_ERR_PORT_IN_USE', `host port${busy.length > 1 ? 's' : ''} already taken, nothing was started:\n    ${busy.join('\n    ')}`, 'stop what holds the port (`docker ps`, `ss -ltnp`), or change the published port in your compose file, then run meshctl up again');
  }
  say(`checks: host ports ${publishedHostPorts(injected.input).map((p) => p.port).join(', ') || '(none published)'} free`);

  // 2. The image.
  if (opts.build === false) {
    if (!imageLabels(image)) throw new MeshError('MESH_ERR_IMAGE_BUILD', `--no-build: ${image} is not in the engine`, 'leave out --no-build, or run `meshctl image build` first');
    say(`image: using ${image} as it is (--no-build)`);
  } else {
    const img = await ensureImage({ tag: image, log: (l: string) => say(`image: ${l}`) });
    say(img.built ? `image: built ${img.tag} (${img.mode} build: ${img.reason})` : `image: ${img.tag} is up to date`);
  }

  // 3. The file.
  const output = join(stateDir, 'compose.yaml');
  renameSync(injected.output, output);
  say(`wrote ${output}: meshed ${injected.meshed.join(', ')}${injected.skipped.length ? `; skipped ${injected.skipped.map((s) => `${s.service} (${s.reason})`).join(', ')}` : ''}${injected.excluded.length ? `; excluded ${injected.excluded.join(', ')}` : ''}`);
  writeUpState(projectDir, { project: injected.project, files, output, controllerPort, image, compose: cli.command });

  // 4. Compose.
  const run = { files: [output], project: injected.project };
  const scale = (opts.scale ?? []).flatMap((s) => ['--scale', s]);
  say(`compose: ${cli.command.join(' ')} -p ${injected.project} -f ${basename(stateDir)}/compose.yaml up -d ${scale.join(' ')}`.trimEnd());
  const stopEvents = opts.verbose || process.env.MESH_DEBUG ? followProjectEvents(injected.project, say) : () => {};
  try {
    await compose.up(cli, run, scale);
  } catch (err) {
    stopEvents();
    throw err;
  }
  say('compose: up -d returned');

  // 5. Convergence.
  const client = await ControllerClient.connect({ url: `http://127.0.0.1:${controllerPort}`, token, timeoutMs: 3000 });
  say(`controller: ${client.url}`);
  let shown = '';
  const live = process.stderr.isTTY && !opts.json;
  const progress = (p: SyncProgress) => {
    const line = `sync: ${p.inSync}/${p.sidecars} sidecars ACKed their snapshot, ${p.discoveredApps}/${p.apps} app containers discovered`;
    if (line === shown) return;
    shown = line;
    if (live) process.stderr.write(`\r${line}\x1b[K`);
    else say(line);
  };
  try {
    await waitForSync({ project: injected.project, client, timeoutMs: Math.max(1000, timeoutMs - (Date.now() - started)), onProgress: progress });
    stopEvents();
  } catch (err) {
    stopEvents();
    if (live) process.stderr.write('\n');
    const p = (err as { progress?: SyncProgress }).progress;
    if (!p) throw err;
    throw new MeshError(
      'MESH_ERR_UP_TIMEOUT',
      `${(err as Error).message}; still waiting for:\n    ${p.waitingFor.slice(0, 12).join('\n    ')}`,
    );
  }
  if (live) process.stderr.write('\n');
  const services = await summarise(injected.project, client);
  const seconds = (Date.now() - started) / 1000;
  if (!opts.json) {
    say(`the mesh is up in ${seconds.toFixed(1)} s:`);
    process.stdout.write(formatSummary(services));
    const web = services.find((s) => s.hostPorts.length);
    if (web) process.stdout.write(`\nsend a request: curl http://${web.hostPorts[0]!.replace(/^0\.0\.0\.0:|^\[?::\]?:/, '127.0.0.1:')}/\nwatch it: meshctl top    status: meshctl status    stop: meshctl down\n`);
  }
  return { project: injected.project, output, controller: client.url, services, seconds };
}
