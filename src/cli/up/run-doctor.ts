// `meshctl doctor`: each check says ok or fail and, when it fails, the fix.
// Checks: Docker engine, compose, the mesh image, the controller, each
// proxy's sync, and the clock difference between the host and Docker's VM
// (certificates and sync ages go wrong when Docker Desktop's clock drifts).
import { spawnSync } from 'node:child_process';
import { composeOfKind, findCompose, type ComposeCli } from '../compose/compose-cli.ts';
import { ImageLabels } from '../image/build-image.ts';
import { contentHash } from '../image/content-hash.ts';
import { imageLabels } from '../image/ensure-image.ts';
import { PACKAGE_ROOT, defaultImageTag } from '../image/mesh-version.ts';
import { packageFiles } from '../image/package-files.ts';
import { engineVersion } from './docker-facts.ts';
import { readUpState } from './mesh-state.ts';
import { connectToProject } from './run-status.ts';
import { CertsResponse } from '../../shared/identity.ts';

export interface Check {
  name: string;
  ok: boolean;
  /** ok, but worth knowing (e.g. the image is older than this meshctl). */
  warn?: boolean;
  detail: string;
  fix?: string;
}

export interface DoctorOptions {
  dir?: string;
  image?: string;
}

/** Container clock minus host clock, in ms, measured around a tiny container printing Date.now(). */
export function clockSkewMs(image: string): { ok: true; skewMs: number; roundTripMs: number } | { ok: false; why: string } {
  const before = Date.now();
  const r = spawnSync('docker', ['run', '--rm', '--network', 'none', '--entrypoint', '/usr/local/bin/node', image, '-e', 'console.log(Date.now())'], { encoding: 'utf8', timeout: 30_000 });
  const after = Date.now();
  if (r.status !== 0) return { ok: false, why: (r.stderr || String(r.error ?? '')).trim().split('\n').pop() ?? 'docker run failed' };
  const inside = Number(r.stdout.trim());
  // The container read its clock somewhere between before and after: the error is at most half the round trip.
  if (inside < before) return { ok: true, skewMs: inside - before, roundTripMs: after - before };
  if (inside > after) return { ok: true, skewMs: inside - after, roundTripMs: after - before };
  return { ok: true, skewMs: 0, roundTripMs: after - before };
}

/** The compose meshctl uses, and the other one when both are installed (MESH_COMPOSE picks). */
function composeDetail(cli: ComposeCli): string {
  const other = composeOfKind(cli.kind === 'v2' ? 'v1' : 'v2');
  const also = other ? `; ${other.kind} ${other.version} (${other.command.join(' ')}) also installed, MESH_COMPOSE=${other.kind} uses it` : '';
  return `${cli.kind} ${cli.version} (${cli.command.join(' ')})${also}`;
}

export async function runDoctor(opts: DoctorOptions): Promise<Check[]> {
  const dir = opts.dir ?? process.cwd();
  const checks: Check[] = [];
  const engine = engineVersion();
  checks.push(engine.ok ? { name: 'docker engine', ok: true, detail: `server ${engine.version}` } : { name: 'docker engine', ok: false, detail: engine.why, fix: 'start Docker (Docker Desktop, or `sudo systemctl start docker`); check `docker version`' });
  const cli = findCompose();
  checks.push(cli ? { name: 'compose', ok: true, detail: composeDetail(cli) } : { name: 'compose', ok: false, detail: 'neither `docker compose` nor `docker-compose` found', fix: 'install Docker Compose v2 (the docker-compose-plugin package) or v1' });
  const state = readUpState(dir);
  const image = opts.image ?? state?.image ?? defaultImageTag();
  if (engine.ok) {
    const labels = imageLabels(image);
    const want = contentHash(packageFiles(PACKAGE_ROOT));
    if (!labels) checks.push({ name: 'mesh image', ok: false, detail: `${image} is not in the engine`, fix: '`meshctl up` builds it, or `meshctl image build`' });
    // Stale is a warning, not a failure: the running mesh works, it just runs an older meshctl.
    else if (labels[ImageLabels.hash] !== want) checks.push({ name: 'mesh image', ok: true, warn: true, detail: `${image} holds another build of meshctl than this one (${labels[ImageLabels.build] ?? '?'} build)`, fix: 'run `meshctl up` again (it rebuilds and recreates the sidecars), or `meshctl image build`' });
    else checks.push({ name: 'mesh image', ok: true, detail: `${image} (${labels[ImageLabels.build]} build, up to date)` });
    const clock = labels ? clockSkewMs(image) : undefined;
    if (clock && clock.ok) {
      const bad = Math.abs(clock.skewMs) > 2000;
      checks.push({
        name: 'clock (host vs Docker)',
        ok: !bad,
        detail: `difference ${clock.skewMs} ms (measured within ±${Math.ceil(clock.roundTripMs / 2)} ms)`,
        ...(bad ? { fix: 'Docker Desktop lags after the laptop sleeps: restart Docker Desktop (or `hwclock -s` in its VM); certificates and sync ages depend on it' } : {}),
      });
    } else if (clock) checks.push({ name: 'clock (host vs Docker)', ok: false, detail: `could not run a container: ${clock.why}`, fix: 'check that the engine can start containers (`docker run --rm <image>`)' });
  }
  if (!state) {
    checks.push({ name: 'controller', ok: false, detail: `no .mesh/up.json in ${dir}`, fix: 'run `meshctl up` in the project folder (or pass --dir)' });
    return checks;
  }
  try {
    const { client } = await connectToProject(dir);
    const health = await client.health();
    checks.push({
      name: 'controller',
      ok: !health.discovery.stale,
      detail: `${client.url}: project ${health.project}, discovery ${health.discovery.kind}${health.discovery.stale ? ` STALE (${health.discovery.error ?? 'no events'})` : ''}, ${health.proxies} proxies`,
      ...(health.discovery.stale ? { fix: 'the controller lost the Docker socket: check it is mounted (`docker inspect` the mesh-controller container); it retries by itself' } : {}),
    });
    // A leaf near its end that is not renewed means the sidecar cannot reach the CA (or the clocks disagree).
    const certs = await client.call('GET', '/v1/certs', CertsResponse).catch(() => undefined);
    for (const c of certs?.services ?? []) {
      const ok = Date.parse(c.notAfter) - Date.now() > 10 * 60_000;
      checks.push({
        name: `certificate ${c.service}`,
        ok,
        detail: `${c.spiffeId} expires ${c.notAfter}`,
        ...(ok ? {} : { fix: `the sidecar renews before expiry: read its log (docker compose -f .mesh/compose.yaml logs ${c.service}-mesh), and compare clocks (the clock check above)` }),
      });
    }
    for (const e of health.buildErrors) checks.push({ name: 'snapshot build', ok: false, detail: e, fix: 'change what the message names (ports, protocol) in mesh.config.ts or the compose file' });
    for (const p of (await client.proxies()).proxies) {
      const ok = p.connected && p.inSync;
      checks.push({
        name: `proxy ${p.service} ${p.proxyId.slice(0, 12)}`,
        ok,
        detail: ok ? `in sync at version ${p.ack?.version}` : !p.connected ? 'not connected to the controller' : p.ack && !p.ack.ok ? `rejected version ${p.ack.version}: ${p.ack.error}` : `behind: wants ${p.desired?.version}, acked ${p.ack?.version ?? 'nothing'}`,
        ...(ok ? {} : { fix: `read its log: docker compose -p ${state.project} -f .mesh/compose.yaml logs ${p.service}-mesh` }),
      });
    }
  } catch (err) {
    checks.push({ name: 'controller', ok: false, detail: (err as Error).message, fix: '`meshctl up` starts it; `docker compose -f .mesh/compose.yaml logs mesh-controller` shows why it stopped' });
  }
  return checks;
}

export function formatDoctor(checks: Check[]): string {
  return checks.map((c) => `${c.warn ? 'warn' : c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}${c.fix ? `\n     fix: ${c.fix}` : ''}`).join('\n') + '\n';
}
