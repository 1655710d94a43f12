// Headers remembered per trace id, bounded in time and size: the memory of the
// header-propagation filter. Insertion order is expiry order (every entry lives
// ttlMs from its last write), so eviction only ever looks at the oldest end.
export class TraceHeaderStore {
  readonly #entries = new Map<string, { headers: readonly string[]; expires: number }>();

  get size(): number {
    return this.#entries.size;
  }

  /** Remembers `headers` (flat [name, value, ...]) for traceId, for ttlMs; the oldest go beyond maxEntries. */
  set(traceId: string, headers: readonly string[], ttlMs: number, maxEntries: number, now = Date.now()): void {
    const m = this.#entries;
    m.delete(traceId);
    m.set(traceId, { headers, expires: now + ttlMs });
    for (const [k, v] of m) {
      if (m.size <= maxEntries && v.expires > now) break;
      m.delete(k);
    }
  }

  get(traceId: string, now = Date.now()): readonly string[] | undefined {
    const e = this.#entries.get(traceId);
    if (e === undefined) return undefined;
    if (e.expires <= now) {
      this.#entries.delete(traceId);
      return undefined;
    }
    return e.headers;
  }
}
