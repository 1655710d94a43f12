// Runs rollouts: validates a start request against the registry, drives the
// pure engine on a timer, writes each new weight as a service override (the
// core rebuilds and pushes snapshots), persists every change, and sends the
// optional synthetic check traffic. Time and figures are injected so tests can
// run it with a fake clock and fixed counters.
import { CanaryStart, type CanaryStatus } from '../../shared/canary.ts';
import { OverridePut, type ServiceOverride } from '../../shared/api.ts';
import { MeshError } from '../../shared/errors.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { VersionFigures } from './version-figures.ts';
import type { CanaryStore } from './canary-store.ts';
import type { CanaryLauncher } from './canary-launcher.ts';
import {
  abortRollout,
  beginRollout,
  checkRollout,
  isMirroring,
  isRunning,
  log,
  pauseRollout,
  pendingRollout,
  promoteRollout,
  resumeRollout,
  setWeight,
  weightsOf,
} from './canary-engine.ts';

/** What the runner needs from the controller. */
export interface CanaryHost {
  /** App versions running for a service (healthy or not); undefined for an unknown service. */
  versions(service: string): string[] | undefined;
  /** A healthy app replica of this version is discovered (a pending canary may begin). */
  ready(service: string, version: string): boolean;
  override(service: string): ServiceOverride | undefined;
  putOverride(body: OverridePut): void;
  /** Every proxy of the service holds the snapshot built from the current override (weights in place). */
  synced?(service: string): boolean;
}

export interface CanaryRunnerOptions {
  store: CanaryStore;
  figures: VersionFigures;
  host: CanaryHost;
  launcher?: CanaryLauncher;
  now?: () => number;
  /** Tick period of the real timer; 0 = no timer (tests call tick()). */
  tickMs?: number;
}

export const HEADER_ROUTE = 'canary-header';
// Container start and health checks get this long; after it a pending rollout ends instead of waiting forever.
const PENDING_TIMEOUT_MS = 5 * 60_000;
// How long a step's fresh baseline waits for the service's proxies to take the new weights.
const SYNC_WAIT_MS = 5_000;
// Retiring the stable version after a promotion: its request counters must stand still this long (in-flight
// requests done) once every proxy of the service holds the promoted weights; without fresh figures, a plain wait.
const RETIRE_QUIET_MS = 1_000;

export class CanaryRunner {
  #o: CanaryRunnerOptions;
  #now: () => number;
  #rollouts = new Map<string, CanaryStatus>();
  #timer?: NodeJS.Timeout;
  #probeAt = new Map<string, number>();
  // Services whose step baseline or check is being scraped (figures.fresh); their checks wait for it.
  #rebasing = new Map<string, object>();
  #checking = new Set<string>();
  #retiring = new Set<string>();

  constructor(opts: CanaryRunnerOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Loads persisted rollouts: a restart resumes where it stopped. Their weights are re-applied for the services
   * discovery already knows; for the others the persisted override (overrides.json) stands until the next change.
   */
  start(): void {
    this.#rollouts = this.#o.store.load();
    for (const s of this.#rollouts.values()) if (isRunning(s) && this.#o.host.versions(s.service)) this.#apply(s);
    const tickMs = this.#o.tickMs ?? 100;
    if (tickMs > 0) {
      this.#timer = setInterval(() => {
        try {
          this.tick();
        } catch (err) {
          // A failed state write (disk full, ...) must not take the controller down; the next tick tries again.
          process.stderr.write(`${JSON.stringify({ msg: 'canary tick failed', error: (err as Error).message })}\n`);
        }
      }, tickMs);
      this.#timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  list(): CanaryStatus[] {
    return [...this.#rollouts.values()].sort((a, b) => (a.service < b.service ? -1 : 1));
  }

  get(service: string): CanaryStatus {
    const s = this.#rollouts.get(service);
    if (!s) throw new MeshError('MESH_ERR_NOT_FOUND', `no rollout for service "${service}"`, `start one with \`meshctl canary start ${service} --version <v>\``);
    return s;
  }

  /** POST /v1/canary. Throws MeshError: USAGE/UNSUPPORTED (400), NOT_FOUND (404), CONFLICT (409). */
  begin(input: CanaryStart): CanaryStatus {
    const body = CanaryStart.parse(input);
    const versions = this.#o.host.versions(body.service);
    if (!versions) throw new MeshError('MESH_ERR_NOT_FOUND', `no service "${body.service}" in the registry`, 'check the name with `meshctl stat`');
    const current = this.#rollouts.get(body.service);
    if (current && isRunning(current)) {
      throw new MeshError('MESH_ERR_CONFLICT', `a rollout of ${body.service} is already ${current.state} (${current.stable} → ${current.canary} at ${current.weight}%)`);
    }
    let canary: string;
    if (body.image) {
      if (!this.#o.launcher) throw new MeshError('MESH_ERR_UNSUPPORTED', '--image needs a controller with Docker discovery (it creates the canary containers)', 'start the new version yourself and pass --version <label>');
      canary = body.version ?? versionFromImage(body.image);
      if (versions.includes(canary)) throw new MeshError('MESH_ERR_CONFLICT', `version ${canary} of ${body.service} already runs`, `use --version ${canary}, or pick another label with --version`);
    } else {
      canary = body.version!;
      if (!versions.includes(canary)) throw new MeshError('MESH_ERR_NOT_FOUND', `service ${body.service} runs no version "${canary}" (running: ${versions.join(', ') || 'none'})`);
    }
    const others = versions.filter((v) => v !== canary);
    const stable = body.stable ?? (others.length === 1 ? others[0] : undefined);
    if (!stable) {
      const why = others.length ? `several versions run (${others.join(', ')})` : 'no other version runs';
      throw new MeshError('MESH_ERR_USAGE', `${body.service}: cannot tell the stable version: ${why}`, others.length ? 'pass stable (--stable <v>)' : 'a canary needs a stable version to compare with and fall back to');
    }
    if (!versions.includes(stable)) throw new MeshError('MESH_ERR_NOT_FOUND', `service ${body.service} runs no version "${stable}"`);
    if (stable === canary) throw new MeshError('MESH_ERR_USAGE', 'stable and canary are the same version');

    const now = this.#now();
    const { version: _v, ...plan } = body;
    let s = pendingRollout({ ...plan, canary, stable }, now);
    if (body.image) {
      // Stable only before the containers exist: once discovered they must not join the stable pool.
      this.#save(s, true);
      this.#launch(s);
      return s;
    }
    s = beginRollout(s, this.#o.figures.totals(body.service), now);
    this.#save(s, true);
    return s;
  }

  promote(service: string) {
    return this.#change(service, (s) => {
      if (s.state === 'pending') throw new MeshError('MESH_ERR_CONFLICT', `the canary of ${service} is still starting; nothing to promote yet`);
      return promoteRollout(s, this.#now());
    });
  }
  abort(service: string) {
    return this.#change(service, (s) => abortRollout(s, this.#now()));
  }
  pause(service: string) {
    return this.#change(service, (s) => {
      if (s.state !== 'progressing') throw new MeshError('MESH_ERR_CONFLICT', `rollout of ${service} is ${s.state}, not progressing`);
      return pauseRollout(s, this.#now());
    });
  }
  resume(service: string) {
    return this.#change(service, (s) => {
      if (s.state !== 'paused' && !(s.state === 'progressing' && s.manual)) throw new MeshError('MESH_ERR_CONFLICT', `rollout of ${service} is ${s.state}; only a paused or manual rollout resumes`);
      return resumeRollout(s, this.#o.figures.totals(service), this.#now());
    });
  }
  setWeight(service: string, weight: number) {
    return this.#change(service, (s) => {
      if (s.state === 'pending') throw new MeshError('MESH_ERR_CONFLICT', `the canary of ${service} is still starting`);
      return setWeight(s, weight, this.#o.figures.totals(service), this.#now());
    });
  }

  /** Runs the checks that are due, starts pending rollouts whose canary is up, sends check traffic. */
  tick(): void {
    const now = this.#now();
    for (const s of [...this.#rollouts.values()]) {
      if (s.state === 'pending' && this.#o.host.ready(s.service, s.canary)) {
        this.#save(beginRollout(s, this.#o.figures.totals(s.service), now), true);
        continue;
      }
      if (s.state === 'pending' && now - s.startedAt > PENDING_TIMEOUT_MS) {
        const reason = `${s.canary} was not discovered as a healthy app of ${s.service} within ${PENDING_TIMEOUT_MS / 60_000} min`;
        this.#save({ ...abortRollout(s, now), reason }, true);
        continue;
      }
      if (s.state === 'promoted' && s.retirement?.state === 'waiting') this.#retire(s);
      if (s.state === 'promoted' && s.retirement?.state === 'done' && this.#o.host.override(s.service)?.weights && !this.#o.host.versions(s.service)?.includes(s.stable)) this.#apply(s);
      if (s.state !== 'progressing') continue;
      if (s.checkUrl) this.#probe(s, now);
      if (s.nextCheckAt === undefined || now < s.nextCheckAt) continue;
      if (this.#o.figures.fresh) {
        this.#checkFresh(s);
        continue;
      }
      const totals = this.#o.figures.totals(s.service);
      // Just restarted: give the scraper up to one interval before judging on no data.
      if (totals === undefined && now < s.nextCheckAt + s.intervalMs) continue;
      const next = checkRollout(s, totals, now);
      this.#save(next, next.weight !== s.weight || next.state !== s.state);
    }
  }

  /**
   * After a promotion: once every proxy of the service sends nothing to the stable version and its request
   * counters stood still for RETIRE_QUIET_MS (nothing in flight), stop and remove the stable containers. When
   * discovery no longer sees them, the weights leave the override (one version is left, and a later `meshctl up`
   * that relabels it must not meet a weight for a version that is gone); not before, or the catch-all route
   * would include the removed endpoints for a moment.
   */
  #retire(s: CanaryStatus): void {
    const { service, stable, canary } = s;
    const host = this.#o.host;
    if (this.#retiring.has(service) || (host.synced && !host.synced(service)) || !host.ready(service, canary)) return;
    this.#retiring.add(service);
    const figures = this.#o.figures;
    const stableRequests = async () => ((figures.fresh ? await figures.fresh(service) : figures.totals(service))?.[stable]?.requests ?? 0);
    void (async () => {
      for (let before = await stableRequests(); ; ) {
        await sleep(RETIRE_QUIET_MS);
        const after = await stableRequests();
        if (after === before) break;
        before = after;
      }
      const n = await this.#o.launcher!.retire!(service, stable);
      const cur = this.#rollouts.get(service);
      if (cur?.state !== 'promoted' || cur.startedAt !== s.startedAt) return;
      const next = log(
        { ...cur, retirement: { state: 'done', containers: n }, nextSteps: [`put the new version${cur.image ? ` (${cur.image})` : ''} in the compose file: the next \`meshctl up\` recreates ${service} from it`] },
        this.#now(),
        'retired',
        `${stable}: ${n} container${n === 1 ? '' : 's'} stopped and removed`,
      );
      this.#save(next, true);
    })()
      .catch((err: Error) => {
        const cur = this.#rollouts.get(service);
        if (cur?.state !== 'promoted' || cur.startedAt !== s.startedAt) return;
        const next = log({ ...cur, retirement: { state: 'failed', detail: err.message }, nextSteps: [`retire ${stable} by hand: stop its containers (it gets no traffic)`] }, this.#now(), 'retire-failed', err.message);
        this.#save(next, false);
      })
      .finally(() => this.#retiring.delete(service));
  }

  /** A due check on figures scraped now, so the window ends at the check (figures.fresh). */
  #checkFresh(s: CanaryStatus): void {
    if (this.#rebasing.has(s.service) || this.#checking.has(s.service)) return;
    this.#checking.add(s.service);
    this.#o.figures
      .fresh!(s.service)
      .then((totals) => {
        const cur = this.#rollouts.get(s.service);
        // A change by hand (set, pause, abort) while the scrape ran wins.
        if (!cur || cur.state !== 'progressing' || cur.baseline !== s.baseline || cur.nextCheckAt !== s.nextCheckAt) return;
        const now = this.#now();
        if (totals === undefined && now < cur.nextCheckAt! + cur.intervalMs) return;
        const next = checkRollout(cur, totals, now);
        this.#save(next, next.weight !== cur.weight || next.state !== cur.state);
      })
      .catch((err: Error) => process.stderr.write(`${JSON.stringify({ msg: 'canary check failed', service: s.service, error: err.message })}\n`))
      .finally(() => this.#checking.delete(s.service));
  }

  /**
   * A new step's window starts once its weights are in place: wait until the service's proxies took the new
   * snapshot, scrape them, and use those counters as the baseline (the engine set the last scrape's meanwhile).
   */
  #rebase(s: CanaryStatus): void {
    const figures = this.#o.figures;
    if (!figures.fresh) return;
    const token = {};
    this.#rebasing.set(s.service, token);
    const host = this.#o.host;
    void (async () => {
      const until = Date.now() + SYNC_WAIT_MS;
      while (host.synced && !host.synced(s.service) && Date.now() < until) await sleep(20);
      const totals = await figures.fresh!(s.service);
      const cur = this.#rollouts.get(s.service);
      if (!totals || !cur || cur.baseline !== s.baseline || this.#rebasing.get(s.service) !== token) return;
      this.#rollouts.set(s.service, { ...cur, baseline: structuredClone(totals) });
      this.#o.store.save(this.#rollouts);
    })()
      .catch((err: Error) => process.stderr.write(`${JSON.stringify({ msg: 'canary baseline scrape failed', service: s.service, error: err.message })}\n`))
      .finally(() => {
        if (this.#rebasing.get(s.service) === token) this.#rebasing.delete(s.service);
      });
  }

  #change(service: string, fn: (s: CanaryStatus) => CanaryStatus): CanaryStatus {
    const s = this.get(service);
    if (!isRunning(s)) throw new MeshError('MESH_ERR_CONFLICT', `rollout of ${service} already ended (${s.state})`, `start a new one with \`meshctl canary start ${service}\``);
    this.#save(fn(s), true);
    return this.#rollouts.get(service)!;
  }

  #launch(s: CanaryStatus): void {
    this.#o.launcher!.launch(s.service, s.image!, s.canary).catch((err: Error) => {
      const cur = this.#rollouts.get(s.service);
      if (cur?.state !== 'pending') return;
      this.#save({ ...cur, state: 'aborted', reason: `could not start ${s.canary}: ${err.message}`, updatedAt: this.#now(), history: [...cur.history, { at: this.#now(), event: 'aborted', detail: err.message }] }, true);
    });
  }

  #probe(s: CanaryStatus, now: number): void {
    const due = this.#probeAt.get(s.service) ?? 0;
    if (now < due) return;
    this.#probeAt.set(s.service, now + Math.max(50, s.intervalMs / 10));
    const count = (failed: boolean) => {
      const cur = this.#rollouts.get(s.service);
      if (!cur) return;
      const c = cur.checkTraffic ?? { sent: 0, failed: 0 };
      this.#rollouts.set(s.service, { ...cur, checkTraffic: { sent: c.sent + 1, failed: c.failed + (failed ? 1 : 0) } });
    };
    fetch(s.checkUrl!, { signal: AbortSignal.timeout(Math.max(1000, s.intervalMs)) })
      .then(async (r) => {
        await r.arrayBuffer();
        count(r.status >= 500);
      })
      .catch(() => count(true));
  }

  #save(s: CanaryStatus, apply: boolean): void {
    // A promotion (by the gates or by hand) retires the stable version when the launcher can (Docker).
    if (s.state === 'promoted' && s.retirement === undefined && this.#o.launcher?.retire) {
      s = { ...s, retirement: { state: 'waiting' }, nextSteps: [`${s.stable} is retired (stopped and removed) once no request reaches it`] };
    }
    if (apply) {
      try {
        this.#apply(s);
      } catch (err) {
        // Runs inside the timer: never throw out of it. The next change writes the override again.
        s = { ...s, history: [...s.history, { at: this.#now(), event: 'override-error', detail: (err as Error).message }].slice(-50) };
      }
    }
    const prev = this.#rollouts.get(s.service);
    this.#rollouts.set(s.service, s);
    this.#o.store.save(this.#rollouts);
    // A new step (or manual weight) took a new baseline from the last scrape: replace it with a fresh one.
    if (s.state === 'progressing' && prev?.baseline !== s.baseline) this.#rebase(s);
  }

  /** Writes the rollout's weights and header route into the service's override, keeping its other fields. */
  #apply(s: CanaryStatus): void {
    const existing = this.#o.host.override(s.service) ?? {};
    const routes = (existing.routes ?? []).filter((r) => r.name !== HEADER_ROUTE);
    // Before the canary starts (pending) and after the rollout ends, a version with no replica is left out: naming
    // it would be a build error, and the stable subset alone keeps new containers out of the traffic. While the
    // rollout runs both stay, so a canary replica that restarts gets its share back when it returns.
    const running = new Set(this.#o.host.versions(s.service) ?? []);
    const settled = s.state === 'pending' || !isRunning(s);
    // Once discovery no longer sees the retired version, the weights go (requests then use all app replicas).
    const retired = s.retirement?.state === 'done' && !running.has(s.stable);
    const weights = retired ? {} : Object.fromEntries(Object.entries(weightsOf(s)).filter(([v]) => !settled || running.has(v)));
    // The header route lives while the rollout runs, and after a rollback so the kept canary can be inspected.
    const header = s.header && (!settled || running.has(s.canary)) && s.state !== 'promoted' && s.state !== 'aborted';
    if (header) {
      routes.unshift({ name: HEADER_ROUTE, match: { headers: [{ name: s.header!.name, exact: s.header!.value, invert: false }] }, to: [{ version: s.canary, weight: 1 }] });
    }
    // Copies go out only while the mirror phase runs (paused included) and the canary has a replica.
    const mirror = isMirroring(s) && (s.state === 'progressing' || s.state === 'paused') && running.has(s.canary) ? { version: s.canary, percent: s.mirrorPercent! } : undefined;
    const { routes: _r, weights: _w, mirror: _m, propagateHeaders: _p, ...rest } = existing;
    this.#o.host.putOverride(
      OverridePut.parse({
        service: s.service,
        ...rest,
        ...(Object.keys(weights).length ? { weights } : {}),
        ...(routes.length ? { routes } : {}),
        ...(mirror ? { mirror } : {}),
        // Every proxy carries the test header from a request to the calls it causes (same trace), so a tester's
        // whole request path reaches this canary, however deep in the call graph the service sits.
        ...(header ? { propagateHeaders: [s.header!.name] } : {}),
      }),
    );
  }
}

/** `shop:2.1` → `2.1`; a digest or a tag that is no valid label falls back to "canary". */
export function versionFromImage(image: string): string {
  const tag = /:([^/:@]+)$/.exec(image)?.[1];
  return tag && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(tag) && tag !== 'latest' ? tag : 'canary';
}
