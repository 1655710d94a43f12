// Requests waiting for a cluster that has no endpoint at all (Linkerd's
// queue): a snapshot that brings endpoints under the same cluster name wakes
// them with the new cluster; a bounded count waits, each for a bounded time.
import type { CompiledCluster } from './compiled-cluster.ts';

export const ENDPOINT_WAIT_DEFAULTS = { maxMs: 3000, maxQueued: 100 } as const;

interface Waiter {
  timer: NodeJS.Timeout;
  wake: (next: CompiledCluster | undefined, timedOut: boolean) => void;
}

/** Per proxy (its live clusters' owner token), per cluster name: the waiting requests. */
const queues = new WeakMap<object, Map<string, Set<Waiter>>>();
/** The proxy that made each cluster live (set at the swap): scopes names when several proxies share a process. */
const ownerOf = new WeakMap<CompiledCluster, object>();

/**
 * Queues one request for `cluster` for up to `ms`. `wake` gets the cluster that has endpoints now, or
 * undefined when it timed out or the cluster left the snapshot. False when the queue is full (or the cluster was never live): fail at once.
 */
export function waitForEndpoints(cluster: CompiledCluster, ms: number, maxQueued: number, wake: (next: CompiledCluster | undefined, timedOut: boolean) => void): boolean {
  const owner = ownerOf.get(cluster);
  if (owner === undefined || ms <= 0) return false;
  let byName = queues.get(owner);
  if (byName === undefined) queues.set(owner, (byName = new Map()));
  let q = byName.get(cluster.name);
  if (q === undefined) byName.set(cluster.name, (q = new Set()));
  if (q.size >= maxQueued) return false;
  const set = q;
  const w: Waiter = {
    timer: setTimeout(() => {
      set.delete(w);
      waitingNow--;
      wake(undefined, true);
    }, ms),
    wake,
  };
  w.timer.unref(); // the listener keeps the process up while it serves; a closed proxy's waiters must not
  set.add(w);
  waitingNow++;
  return true;
}

let waitingNow = 0;

/** Requests waiting for an endpoint right now, every proxy of the process together (tests). */
export function requestsWaitingForEndpoints(): number {
  return waitingNow;
}

/** After a snapshot swap: tag the live clusters with their proxy, and wake waiters whose cluster now has endpoints. */
export function clustersSwapped(owner: object, clusters: ReadonlyMap<string, CompiledCluster>): void {
  for (const c of clusters.values()) ownerOf.set(c, owner);
  const byName = queues.get(owner);
  if (byName === undefined) return;
  for (const [name, q] of byName) {
    const next = clusters.get(name);
    if (next !== undefined && next.endpoints.length === 0) continue;
    // Gone from the snapshot, or back with endpoints: either way the waiters decide now.
    byName.delete(name);
    for (const w of q) {
      clearTimeout(w.timer);
      waitingNow--;
      w.wake(next, false);
    }
  }
}
