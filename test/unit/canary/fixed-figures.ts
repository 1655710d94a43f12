// Fixed per-version counters for the canary tests: traffic is "served" by
// adding requests, errors and a latency to a version's cumulative totals, as
// the proxies' counters would grow. Also a fake clock and an in-memory host.
import type { VersionTotals } from '../../../src/shared/canary.ts';
import type { VersionFigures } from '../../../src/controller/canary/version-figures.ts';
import type { CanaryHost } from '../../../src/controller/canary/canary-runner.ts';
import type { OverridePut, ServiceOverride } from '../../../src/shared/api.ts';

const LES = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class FixedFigures implements VersionFigures {
  scraped = true;
  #t = new Map<string, VersionTotals>();

  /** n requests to version, `errors` of them 5xx, each taking latencyMs. */
  serve(version: string, n: number, { errors = 0, latencyMs = 5 } = {}): void {
    const t = this.#t.get(version) ?? { requests: 0, errors: 0, buckets: [...LES.map((le) => [le, 0] as [number, number]), [null, 0] as [null, number]] };
    t.requests += n;
    t.errors += errors;
    t.buckets = t.buckets.map(([le, c]) => [le, c + (le === null || latencyMs / 1000 <= le ? n : 0)]);
    this.#t.set(version, t);
  }

  totals(): Record<string, VersionTotals> | undefined {
    return this.scraped ? structuredClone(Object.fromEntries(this.#t)) : undefined;
  }
}

export function fakeHost(versions: Record<string, string[]>) {
  const overrides = new Map<string, ServiceOverride>();
  const puts: OverridePut[] = [];
  const host: CanaryHost = {
    versions: (s) => versions[s],
    ready: (s, v) => versions[s]?.includes(v) ?? false,
    override: (s) => overrides.get(s),
    putOverride: (body) => {
      const { service, ...rest } = body;
      puts.push(body);
      overrides.set(service, rest);
    },
  };
  return { host, overrides, puts, versions };
}

export function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}
