// What a fault scenario reports: the load it ran under, what happened to that
// load, the promise the mesh makes for this fault and whether it held.
import type { LoadFigures } from './load.ts';

export interface ScenarioResult {
  id: string;
  title: string;
  /** Where it ran: the shop on Docker, or a controller and real proxies on loopback. */
  level: 'shop (Docker)' | 'integration (loopback)';
  load: { rate: number; seconds: number; what: string };
  figures: LoadFigures;
  promise: string;
  /** true kept, false broken, null not runnable here (the reason is in notes). */
  kept: boolean | null;
  /** Each check of the promise, with what was seen. */
  checks: { what: string; ok: boolean; seen: string }[];
  notes: string[];
  /**
   * Set when the promise is broken only by a bug already reported (named here, with its signature): still
   * shown as broken everywhere, but `--quick` does not fail on it. Any other failure fails the run.
   */
  knownIssue?: string;
}

/** A reported bug: every failed request must match `reasons`, and only the zero-failures check may be broken. */
export interface KnownIssue {
  issue: string;
  reasons: RegExp;
}

export interface RunOptions {
  quick: boolean;
  log: (line: string) => void;
}

/** Builds the result from the checks: the promise holds only when every check does. */
export function verdict(base: Omit<ScenarioResult, 'kept' | 'knownIssue'>, known?: KnownIssue): ScenarioResult {
  const kept = base.checks.every((c) => c.ok);
  const broken = base.checks.filter((c) => !c.ok);
  const explained =
    !kept && known !== undefined && broken.every((c) => c.what === 'zero failed') && Object.keys(base.figures.errors).every((why) => known.reasons.test(why));
  return { ...base, kept, ...(explained ? { knownIssue: known!.issue } : {}) };
}

export const check = (what: string, ok: boolean, seen: string) => ({ what, ok, seen });

/** A scenario this machine cannot run (what it lacks in `why`): reported as such, never as kept. */
export function notRunnable(id: string, title: string, promise: string, why: string): ScenarioResult {
  return {
    id,
    title,
    level: 'shop (Docker)',
    load: { rate: 0, seconds: 0, what: '-' },
    figures: { sent: 0, failed: 0, worstBurstMs: 0, errors: {} },
    promise,
    kept: null,
    checks: [],
    notes: [`Not runnable here: ${why}.`],
  };
}
