// Drives a root rotation through the CA's three steps, each only once every
// proxy is ready for it, so no handshake fails on the way:
//   trusting  the next root is in the trust bundle (pushed in every snapshot);
//             the old root still signs. Waits until every proxy ACKed a
//             snapshot carrying that bundle.
//   renewing  the next root signs; the leaf generation goes up, so every proxy
//             renews at once. Waits until every proxy's last leaf (the CA's
//             issued index) comes from the new root, then `settleMs` more for
//             the answers to land.
//   idle      the old roots are retired and the bundle without them is pushed.
// The phase is read from the CA's files, so a restarted controller resumes.
// `finish()` ends the overlap at once (proxies still on an old leaf are refused
// until they renew, which the generation bump makes them do right away).
import type { RootRotationStatus } from '../../shared/identity.ts';
import { MeshError } from '../../shared/errors.ts';
import type { CertAuthority } from './cert-authority.ts';

/** What the rotation needs to know of each proxy (the push hub's status rows). */
export interface RotationProxy {
  proxyId: string;
  service: string;
  desired?: { version: number };
  ack?: { ok: boolean; version: number };
}

export interface RootRotationOptions {
  /** Proxies the controller builds snapshots for (discovery knows them). */
  proxies: () => RotationProxy[];
  checkMs?: number;
  settleMs?: number;
  now?: () => number;
  log?: (msg: string) => void;
}

type Waiting = RootRotationStatus['waitingFor'];

export class RootRotation {
  private readonly ca: CertAuthority;
  private readonly opts: RootRotationOptions;
  private readonly now: () => number;
  private readonly log: (msg: string) => void;
  /** Per proxy, the first snapshot version that carries the next root. */
  private bundleVersions: Map<string, number> | undefined;
  private settledSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** begin, finish and checks run one at a time, in order. */
  private queue: Promise<unknown> = Promise.resolve();
  private waiting: Waiting = [];

  constructor(ca: CertAuthority, opts: RootRotationOptions) {
    this.ca = ca;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
    // A controller restarted mid-rotation carries on where it was.
    if (this.phase() !== 'idle') this.arm();
  }

  phase(): RootRotationStatus['phase'] {
    return this.ca.hasNextRoot ? 'trusting' : this.ca.hasPreviousRoots ? 'renewing' : 'idle';
  }

  status(): RootRotationStatus {
    const phase = this.phase();
    return { phase, waitingFor: phase === 'idle' ? [] : this.waiting };
  }

  /** Step 1 now; the others follow as proxies catch up (check()). */
  begin(): Promise<RootRotationStatus> {
    return this.serial(async () => {
      if (this.phase() !== 'idle') {
        throw new MeshError('MESH_ERR_CONFLICT', `a root rotation is already under way (phase ${this.phase()})`, 'wait for it (`meshctl certs`), or end it: `meshctl certs rotate-root --finish`');
      }
      await this.ca.prepareNextRoot(); // its change listener rebuilds and pushes the snapshots
      this.bundleVersions = this.desiredVersions();
      this.settledSince = undefined;
      this.arm();
      await this.step();
      return this.status();
    });
  }

  /** Ends the overlap now: activate a waiting next root, bump the generation, retire old roots. */
  finish(): Promise<RootRotationStatus> {
    return this.serial(async () => {
      if (this.ca.hasNextRoot) await this.activate();
      if (this.ca.hasPreviousRoots) await this.ca.retirePreviousRoots();
      this.log('root rotation: finished on request');
      this.disarm();
      return this.status();
    });
  }

  /** One evaluation; moves to the next step when every proxy is ready. */
  check(): Promise<void> {
    return this.serial(() => this.step());
  }

  private serial<R>(fn: () => Promise<R>): Promise<R> {
    const p = this.queue.then(fn);
    this.queue = p.catch(() => {});
    return p;
  }

  close(): void {
    this.disarm();
  }

  private async step(): Promise<void> {
    if (this.phase() === 'trusting') {
      this.bundleVersions ??= this.desiredVersions();
      this.waiting = this.notYetTrusting();
      if (this.waiting.length > 0) return;
      await this.activate();
    }
    if (this.phase() === 'renewing') {
      this.waiting = this.notYetRenewed();
      if (this.waiting.length > 0) {
        this.settledSince = undefined;
        return;
      }
      // The CA recorded every new leaf when it signed it; give the answers time to reach the proxies.
      this.settledSince ??= this.now();
      if (this.now() - this.settledSince < (this.opts.settleMs ?? 1000)) return;
      await this.ca.retirePreviousRoots();
      this.log('root rotation: every proxy holds a leaf from the new root; old roots retired');
    }
    if (this.phase() === 'idle') this.disarm();
  }

  private async activate(): Promise<void> {
    await this.ca.activateNextRoot();
    await this.ca.bumpLeafGeneration();
    this.settledSince = undefined;
    this.bundleVersions = undefined;
    this.log('root rotation: every proxy trusts the new root; it signs now and every proxy renews');
  }

  private desiredVersions(): Map<string, number> {
    return new Map(this.opts.proxies().flatMap((p) => (p.desired ? [[p.proxyId, p.desired.version] as const] : [])));
  }

  private notYetTrusting(): Waiting {
    const out: Waiting = [];
    for (const p of this.opts.proxies()) {
      if (!p.desired) continue;
      // A proxy first seen since step 1 gets the bundle in whatever it is sent.
      const need = this.bundleVersions!.get(p.proxyId) ?? p.desired.version;
      if (!p.ack || !p.ack.ok || p.ack.version < need) out.push({ proxyId: p.proxyId, service: p.service, reason: `has not acknowledged snapshot version ${need} (carries the new root)` });
    }
    return out;
  }

  private notYetRenewed(): Waiting {
    const active = this.ca.activeRootSubject;
    const leaves = this.ca.leaves();
    const out: Waiting = [];
    for (const p of this.opts.proxies()) {
      if (!p.desired) continue;
      // A sidecar signs with its hostname, which may be the short form of the id discovery reports.
      const own = leaves.filter((l) => l.proxyId !== undefined && l.service === p.service && p.proxyId.startsWith(l.proxyId));
      const mine = own.length ? own : leaves.filter((l) => l.service === p.service && l.proxyId === undefined);
      const newest = mine.sort((a, b) => (a.issuedAt < b.issuedAt ? 1 : -1))[0];
      if (!newest) out.push({ proxyId: p.proxyId, service: p.service, reason: 'no leaf on record' });
      else if (newest.issuer !== active) out.push({ proxyId: p.proxyId, service: p.service, reason: `leaf ${newest.serial.slice(0, 16)} is from an old root` });
    }
    return out;
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check().catch((err) => this.log(`root rotation: ${(err as Error).message}`)), this.opts.checkMs ?? 500);
    this.timer.unref();
  }

  private disarm(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.waiting = [];
  }
}
