// Runs rollouts: validates a start request against the registry, drives the
// pure engine on a timer, writes each new weight as a service override (the
// core rebuilds and pushes snapshots), persists every change, and sends the
// optional synthetic check traffic. Time and figures are injected so tests can
// run it with a fake clock and fixed counters.
import { CanaryStart, type CanaryStatus } from '../../shared/canary.ts';
import { OverridePut, type ServiceOverride } from '../../shared/api.ts';
import { MeshError } from '../../shared/errors.ts';
import type { VersionFigures } from './version-figures.ts';
import type { CanaryStore } from './canary-store.ts';
import type { CanaryLauncher } from './canary-launcher.ts';
import {
  abortRollout,
  beginRollout,
  checkRollout,
  isRunning,
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

export class CanaryRunner {
  #o: CanaryRunnerOptions;
  #now: () => number;
  #rollouts = new Map<string, CanaryStatus>();
  #timer?: NodeJS.Timeout;
  #probeAt = new Map<string, number>();

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
    if (body.mirrorPercent !== undefined) {
      throw new MeshError('MESH_ERR_UNSUPPORTED', 'traffic mirroring (--mirror) is not supported yet: snapshots have no mirror policy and the proxy cannot copy requests', 'start without --mirror; use --header to test the canary before it gets real traffic');
    }
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
    const { version: _v, mirrorPercent: _m, ...plan } = body;
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
      if (s.state !== 'progressing') continue;
      if (s.checkUrl) this.#probe(s, now);
      if (s.nextCheckAt === undefined || now < s.nextCheckAt) continue;
      const totals = this.#o.figures.totals(s.service);
      // Just restarted: give the scraper up to one interval before judging on no data.
      if (totals === undefined && now < s.nextCheckAt + s.intervalMs) continue;
      const next = checkRollout(s, totals, now);
      this.#save(next, next.weight !== s.weight || next.state !== s.state);
    }
  }

  #change(service: string, fn: (s: CanaryStatus) => CanaryStatus): CanaryStatus {
    const s = this.get(service);
    if (!isRunning(s)) throw new MeshError('MESH_ERR_CONFLICT', `rollout of ${service} already ended (${s.state})`, `start a new one with \`meshctl canary start ${service}\``);
    const next = fn(s);
    this.#save(next, true);
    return next;
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
    if (apply) {
      try {
        this.#apply(s);
      } catch (err) {
        // Runs inside the timer: never throw out of it. The next change writes the override again.
        s = { ...s, history: [...s.history, { at: this.#now(), event: 'override-error', detail: (err as Error).message }].slice(-50) };
      }
    }
    this.#rollouts.set(s.service, s);
    this.#o.store.save(this.#rollouts);
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
    const weights = Object.fromEntries(Object.entries(weightsOf(s)).filter(([v]) => !settled || running.has(v)));
    // The header route lives while the rollout runs, and after a rollback so the kept canary can be inspected.
    if (s.header && (!settled || running.has(s.canary)) && s.state !== 'promoted' && s.state !== 'aborted') {
      routes.unshift({ name: HEADER_ROUTE, match: { headers: [{ name: s.header.name, exact: s.header.value, invert: false }] }, to: [{ version: s.canary, weight: 1 }] });
    }
    const { routes: _r, weights: _w, ...rest } = existing;
    this.#o.host.putOverride(OverridePut.parse({ service: s.service, ...rest, ...(Object.keys(weights).length ? { weights } : {}), ...(routes.length ? { routes } : {}) }));
  }
}

/** `shop:2.1` → `2.1`; a digest or a tag that is no valid label falls back to "canary". */
export function versionFromImage(image: string): string {
  const tag = /:([^/:@]+)$/.exec(image)?.[1];
  return tag && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(tag) && tag !== 'latest' ? tag : 'canary';
}
