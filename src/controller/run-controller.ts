// `meshctl controller` in process form: load config, pick discovery, start,
// reload the config on SIGHUP (a bad config is reported and changes nothing),
// stop cleanly on SIGINT/SIGTERM.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MeshError } from '../shared/errors.ts';
import { loadMeshConfig, loadMeshConfigOrThrow } from './config/load-config.ts';
import { applyTracingDefault } from './config/tracing-default.ts';
import { StaticDiscovery } from './discovery/static-discovery.ts';
import type { DiscoverySource } from './discovery/discovery-source.ts';
import { startController } from './start-controller.ts';

export interface RunControllerOptions {
  project: string;
  discovery: string;
  listen: string;
  pushListen?: string;
  pushDns?: string;
  stateDir: string;
  config?: string;
  file?: string;
  token?: string;
}

export async function runController(opts: RunControllerOptions): Promise<void> {
  const m = /^(.+):(\d+)$/.exec(opts.listen);
  if (!m) throw new MeshError('MESH_ERR_USAGE', `--listen ${opts.listen}: expected host:port, e.g. 127.0.0.1:15010`);
  const pm = opts.pushListen === undefined ? undefined : /^(.+):(\d+)$/.exec(opts.pushListen);
  if (pm === null) throw new MeshError('MESH_ERR_USAGE', `--push-listen ${opts.pushListen}: expected host:port, e.g. 0.0.0.0:15011`);
  const loadOpts = { configPath: opts.config, composePath: opts.file };
  const config = applyTracingDefault(await loadMeshConfigOrThrow(loadOpts));
  const stateDir = resolve(opts.stateDir);
  const token = opts.token ?? process.env.MESH_BOOTSTRAP_TOKEN ?? readOrCreateToken(stateDir);
  const discovery = await pickDiscovery(opts.discovery, opts.project);
  const ctl = await startController({
    project: opts.project,
    config,
    discovery,
    stateDir,
    listen: { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) },
    token,
    log: (msg) => log({ msg }),
    ...(pm ? { pushListen: { host: pm[1]!.replace(/^\[|\]$/g, ''), port: Number(pm[2]) }, pushDnsNames: opts.pushDns ? [opts.pushDns] : [] } : {}),
  });
  log({ msg: 'controller listening', url: ctl.url, ...(ctl.pushUrl ? { pushUrl: ctl.pushUrl } : {}), project: opts.project, discovery: opts.discovery, stateDir });

  process.on('SIGHUP', () => {
    void loadMeshConfig(loadOpts).then((r) => {
      if (r.ok) {
        ctl.setConfig(applyTracingDefault(r.config));
        log({ msg: 'config reloaded', file: r.file });
      } else log({ msg: 'config rejected; keeping the running one', errors: r.errors });
    });
  });
  await new Promise<void>((done) => {
    const stop = () =>
      void ctl.close().then(() => {
        log({ msg: 'controller stopped' });
        done();
      });
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function pickDiscovery(spec: string, project: string): Promise<DiscoverySource> {
  if (spec.startsWith('static:')) {
    const file = resolve(spec.slice('static:'.length));
    if (!existsSync(file)) throw new MeshError('MESH_ERR_FILE_NOT_FOUND', `--discovery ${spec}: ${file} does not exist`);
    return new StaticDiscovery(file);
  }
  if (spec === 'docker') {
    const { DockerDiscovery } = await import('./discovery/docker-discovery.ts');
    return new DockerDiscovery({ project });
  }
  throw new MeshError('MESH_ERR_USAGE', `--discovery ${spec}: expected docker or static:FILE`);
}

/** The bootstrap token proxies and the CLI present; kept in the state folder, readable by its owner only. */
function readOrCreateToken(stateDir: string): string {
  const file = join(stateDir, 'bootstrap-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(stateDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}

function log(fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), component: 'controller', ...fields }) + '\n');
}
