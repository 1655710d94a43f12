// The push side of the control plane: holds the desired snapshot of every
// proxy, the open subscription streams and what each proxy last acknowledged.
// A snapshot goes down a stream only when its content hash differs from what
// the proxy holds, so an unchanged rebuild sends nothing.
import type { ServerResponse } from 'node:http';
import type { AckMessage, PushMessage, SubscribeQuery } from '../../shared/api.ts';
import type { Snapshot } from '../../shared/snapshot.ts';

type Desired = { version: number; hash: string; snapshot: Snapshot; service: string };
type Subscriber = { res: ServerResponse; query: SubscribeQuery; remote: string; sentHash?: string; connectedAt: number };
type Ack = AckMessage & { at: number };

export interface PushHubOptions {
  /** Heartbeat period; lets both sides notice a dead stream. */
  pingMs?: number;
  now?: () => number;
}

export class PushHub {
  #desired = new Map<string, Desired>();
  #subs = new Map<string, Set<Subscriber>>();
  #acks = new Map<string, Ack>();
  #lastSync = new Map<string, number>();
  #known = new Map<string, { service: string; admin?: string; remote: string }>();
  #seq = 0;
  #timer: NodeJS.Timeout;
  #now: () => number;
  #waiters = new Set<() => void>();

  constructor(opts: PushHubOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#timer = setInterval(() => this.#pingAll(), opts.pingMs ?? 10_000);
    this.#timer.unref();
  }

  /** Replace the desired set after a rebuild. Versions move only for changed content. */
  setDesired(snapshots: Map<string, Snapshot>): void {
    for (const id of [...this.#desired.keys()]) if (!snapshots.has(id)) this.#desired.delete(id);
    for (const [id, snap] of snapshots) {
      const prev = this.#desired.get(id);
      if (prev?.hash === snap.hash) continue;
      const version = ++this.#seq;
      this.#desired.set(id, { version, hash: snap.hash!, snapshot: { ...snap, version }, service: snap.node.service });
    }
    this.#rekey();
    for (const [key, subs] of this.#subs) for (const sub of subs) this.#maybeSend(key, sub);
  }

  /** Attach a subscription stream; the caller has authenticated it already. */
  subscribe(query: SubscribeQuery, res: ServerResponse, remote: string): void {
    // Versions stay monotonic for a proxy across controller restarts.
    if (query.version !== undefined && query.version > this.#seq) this.#seq = query.version;
    const sub: Subscriber = { res, query, remote, sentHash: query.hash, connectedAt: this.#now() };
    const key = this.#canonical(query.proxyId);
    if (!this.#subs.has(key)) this.#subs.set(key, new Set());
    this.#subs.get(key)!.add(sub);
    this.#known.set(key, { service: query.service, admin: query.admin, remote });
    res.on('close', () => {
      // The set may have moved to the full id since (see #rekey).
      const k = this.#canonical(key);
      this.#subs.get(k)?.delete(sub);
      if (this.#subs.get(k)?.size === 0) this.#subs.delete(k);
    });
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    this.#write(sub, { type: 'ping', at: this.#now() });
    this.#maybeSend(key, sub);
  }

  ack(msg: AckMessage): void {
    const proxyId = this.#canonical(msg.proxyId);
    this.#acks.set(proxyId, { ...msg, proxyId, at: this.#now() });
    if (msg.ok) this.#lastSync.set(proxyId, this.#now());
    for (const w of this.#waiters) w();
  }

  /**
   * One name per proxy. A Docker sidecar knows itself by its hostname, the
   * short container id, while discovery knows the full id: a short id that
   * starts exactly one desired id is that proxy.
   */
  #canonical(proxyId: string): string {
    if (this.#desired.has(proxyId) || proxyId.length < 12) return proxyId;
    let found: string | undefined;
    for (const id of this.#desired.keys()) {
      if (!id.startsWith(proxyId)) continue;
      if (found !== undefined) return proxyId;
      found = id;
    }
    return found ?? proxyId;
  }

  /** After a rebuild, state kept under a short id moves to the full id discovery now knows. */
  #rekey(): void {
    for (const short of new Set([...this.#subs.keys(), ...this.#acks.keys(), ...this.#known.keys()])) {
      const full = this.#canonical(short);
      if (full === short) continue;
      for (const map of [this.#subs, this.#acks, this.#lastSync, this.#known] as Map<string, unknown>[]) {
        if (map.has(short) && !map.has(full)) map.set(full, map.get(short));
        map.delete(short);
      }
      const ack = this.#acks.get(full);
      if (ack) ack.proxyId = full;
    }
  }


  #maybeSend(key: string, sub: Subscriber): void {
    const d = this.#desired.get(key);
    if (!d || d.service !== sub.query.service) return;
    if (sub.sentHash === d.hash) {
      // Nothing sent on this stream yet, and the proxy subscribed holding what we want (after a controller
      // restart, whether the desired set was built before it came back or only after): that is its ACK.
      if (sub.query.hash === d.hash && this.#acks.get(key)?.hash !== d.hash) this.#ackHeld(key, sub.query, d);
      return;
    }
    sub.sentHash = d.hash;
    this.#write(sub, { type: 'snapshot', snapshot: d.snapshot as unknown as Record<string, unknown> });
  }

  /** The proxy holds `d` already: an ACK, at the proxy's version when that is the higher one. */
  #ackHeld(key: string, query: SubscribeQuery, d: Desired): void {
    if (query.version !== undefined && query.version > d.version) {
      d.version = query.version;
      d.snapshot = { ...d.snapshot, version: query.version };
    }
    this.ack({ service: query.service, proxyId: key, version: d.version, hash: d.hash, ok: true });
  }

  #write(sub: Subscriber, msg: PushMessage): void {
    if (!sub.res.writableEnded) sub.res.write(JSON.stringify(msg) + '\n');
  }

  #pingAll(): void {
    for (const subs of this.#subs.values()) for (const sub of subs) this.#write(sub, { type: 'ping', at: this.#now() });
  }

  /** Every proxy the hub knows of: in the desired set, connected, or heard from. */
  status() {
    const now = this.#now();
    const ids = new Set([...this.#desired.keys(), ...this.#subs.keys(), ...this.#acks.keys()]);
    return [...ids].sort().map((proxyId) => {
      const d = this.#desired.get(proxyId);
      const ack = this.#acks.get(proxyId);
      const sync = this.#lastSync.get(proxyId);
      const connected = this.#subs.has(proxyId);
      return {
        proxyId,
        service: d?.service ?? this.#known.get(proxyId)?.service ?? ack?.service ?? '',
        connected,
        ...(d ? { desired: { version: d.version, hash: d.hash } } : {}),
        ...(ack ? { ack: { ok: ack.ok, version: ack.version, hash: ack.hash, ...(ack.error ? { error: ack.error } : {}), ageMs: now - ack.at } } : {}),
        inSync: !!d && !!ack && ack.ok && ack.hash === d.hash,
        ...(sync !== undefined ? { lastSyncAgeMs: now - sync } : {}),
      };
    });
  }

  /** Admin addresses proxies reported when they subscribed, for the metrics scrape. */
  adminTargets(): { proxyId: string; service: string; url: string }[] {
    const out: { proxyId: string; service: string; url: string }[] = [];
    for (const [proxyId, k] of this.#known) {
      if (!k.admin || !this.#subs.has(proxyId)) continue;
      const [host, port] = k.admin.split(':');
      const h = host === '0.0.0.0' || host === '::' ? k.remote : host;
      out.push({ proxyId, service: k.service, url: `http://${h!.includes(':') ? `[${h}]` : h}:${port}` });
    }
    return out.sort((a, b) => (a.proxyId < b.proxyId ? -1 : 1));
  }

  /** Resolves on the next ACK/NACK; for tests and `meshctl` commands that wait for convergence. */
  nextAck(): Promise<void> {
    return new Promise((resolve) => {
      const w = () => {
        this.#waiters.delete(w);
        resolve();
      };
      this.#waiters.add(w);
    });
  }

  close(): void {
    clearInterval(this.#timer);
    for (const subs of this.#subs.values()) for (const sub of subs) sub.res.end();
    this.#subs.clear();
  }
}
