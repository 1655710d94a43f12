// The rollout state machine, pure: (status, figures, now) → next status. No
// timers and no I/O here; the runner calls these and applies the weights.
// A step advances only when every gate passes with enough samples in the
// step's window (counters diffed against the baseline taken when the step
// began); too few samples holds and says so, a failed gate rolls back.
import { mirrorFiguresKey, type CanaryCheck, type CanaryStart, type CanaryStatus, type VersionTotals } from '../../shared/canary.ts';
import { quantile } from '../metrics/metrics-scraper.ts';

const MAX_HISTORY = 50;
const TERMINAL = new Set(['promoted', 'rolled-back', 'aborted']);

export type Totals = Record<string, VersionTotals> | undefined;
export type RolloutPlan = Omit<CanaryStart, 'version'> & { canary: string; stable: string };

export const isRunning = (s: CanaryStatus) => !TERMINAL.has(s.state);

/** A rollout waiting for its canary (containers starting); weight 0, no checks. */
export function pendingRollout(plan: RolloutPlan, now: number): CanaryStatus {
  return {
    service: plan.service,
    stable: plan.stable,
    canary: plan.canary,
    ...(plan.image ? { image: plan.image } : {}),
    steps: plan.steps,
    intervalMs: plan.intervalMs,
    gates: plan.gates,
    ...(plan.header ? { header: plan.header } : {}),
    ...(plan.checkUrl ? { checkUrl: plan.checkUrl } : {}),
    ...(plan.mirrorPercent ? { mirrorPercent: plan.mirrorPercent } : {}),
    state: 'pending',
    step: -1,
    weight: 0,
    manual: false,
    startedAt: now,
    stepStartedAt: now,
    baseline: {},
    stableP99RefMs: null,
    nextSteps: [],
    history: [{ at: now, event: 'created', detail: `${plan.stable} → ${plan.canary}${plan.image ? ` (${plan.image})` : ''}` }],
    updatedAt: now,
  };
}

/** First step: the canary gets steps[0] percent; with --mirror, first one interval of copies at weight 0. */
export function beginRollout(s: CanaryStatus, totals: Totals, now: number): CanaryStatus {
  if (s.mirrorPercent) return enterMirror({ ...s, state: 'progressing' }, totals, now, 'started');
  return enterStep({ ...s, state: 'progressing' }, 0, totals, now, 'started');
}

/** The mirror phase: weight 0, mirrorPercent of requests copied to the canary; the gates judge the copies' answers. */
export const isMirroring = (s: CanaryStatus) => s.step < 0 && !!s.mirrorPercent && !s.manual;

function enterMirror(s: CanaryStatus, totals: Totals, now: number, event: string): CanaryStatus {
  return log(
    { ...s, step: -1, weight: 0, manual: false, stepStartedAt: now, nextCheckAt: now + s.intervalMs, baseline: structuredClone(totals ?? {}), nextSteps: [], reason: undefined },
    now,
    event,
    `mirror: ${s.mirrorPercent}% of requests copied to ${s.canary}, answers discarded; no real traffic moves yet`,
  );
}

function enterStep(s: CanaryStatus, step: number, totals: Totals, now: number, event: string): CanaryStatus {
  const weight = s.steps[step]!;
  return log(
    { ...s, mirrorPercent: undefined, step, weight, manual: false, stepStartedAt: now, nextCheckAt: now + s.intervalMs, baseline: structuredClone(totals ?? {}), nextSteps: [], reason: undefined },
    now,
    event,
    `step ${step + 1}/${s.steps.length}: ${weight}% to ${s.canary}`,
  );
}

/** Counters in the window: current minus baseline; a counter that went down (proxy restarted) counts from zero. */
export function windowOf(baseline: VersionTotals | undefined, current: VersionTotals | undefined) {
  const cur = current ?? { requests: 0, errors: 0, buckets: [] };
  const reset = !baseline || cur.requests < baseline.requests;
  const base = reset ? { requests: 0, errors: 0, buckets: [] as VersionTotals['buckets'] } : baseline;
  const before = new Map(base.buckets.map(([le, n]) => [le ?? Infinity, n]));
  const buckets = new Map<number, number>();
  for (const [le, n] of cur.buckets) buckets.set(le ?? Infinity, Math.max(0, n - (before.get(le ?? Infinity) ?? 0)));
  const requests = Math.max(0, cur.requests - base.requests);
  const errors = Math.max(0, cur.errors - base.errors);
  return { requests, errors, p99Ms: requests > 0 ? quantile(buckets, 0.99) : null };
}

const pct = (n: number) => `${(n * 100).toFixed(1)}%`;

/** Evaluates the gates on the step's window. Pure; does not change the status. */
export function evaluateGates(s: CanaryStatus, totals: Totals, now: number): CanaryCheck {
  const g = s.gates;
  // In the mirror phase the canary's figures are its answers to the copies.
  const key = isMirroring(s) ? mirrorFiguresKey(s.canary) : s.canary;
  const c = windowOf(s.baseline[key], totals?.[key]);
  const st = windowOf(s.baseline[s.stable], totals?.[s.stable]);
  const stableP99 = st.requests >= g.minRequests ? st.p99Ms : null;
  const base = { at: now, requests: c.requests, errors: c.errors, errorRate: c.requests ? c.errors / c.requests : null, p99Ms: c.p99Ms, stableRequests: st.requests, stableP99Ms: stableP99 };
  if (c.requests < g.minRequests) {
    const why = totals === undefined ? 'no metrics scraped yet' : `${c.requests} of ${g.minRequests} ${key === s.canary ? 'requests' : 'mirrored copies'} to ${s.canary} in the window`;
    return { ...base, verdict: 'insufficient', reasons: [`insufficient samples: ${why}`] };
  }
  const reasons: string[] = [];
  let failedGate: CanaryCheck['failedGate'];
  let insufficient = false;
  const rate = c.errors / c.requests;
  if (rate > g.maxErrorRate) {
    failedGate = 'error-rate';
    reasons.push(`error rate ${pct(rate)} > ${pct(g.maxErrorRate)} (${c.errors} of ${c.requests} requests failed)`);
  } else reasons.push(`error rate ${pct(rate)} <= ${pct(g.maxErrorRate)} (${c.errors} of ${c.requests})`);
  if (g.maxP99) {
    const limit = 'ms' in g.maxP99 ? g.maxP99.ms : (stableP99 ?? s.stableP99RefMs) === null ? null : g.maxP99.relative * (stableP99 ?? s.stableP99RefMs)!;
    const what = 'ms' in g.maxP99 ? `${g.maxP99.ms} ms` : `${g.maxP99.relative}x stable p99 ${fmtMs(stableP99 ?? s.stableP99RefMs)}`;
    if (limit === null) {
      insufficient = true;
      reasons.push(`insufficient samples: no stable p99 to compare (${st.requests} of ${g.minRequests} requests to ${s.stable})`);
    } else if (c.p99Ms !== null && c.p99Ms > limit) {
      failedGate ??= 'p99';
      reasons.push(`p99 ${fmtMs(c.p99Ms)} > ${what}`);
    } else reasons.push(`p99 ${fmtMs(c.p99Ms)} <= ${what}`);
  }
  const verdict = failedGate ? 'fail' : insufficient ? 'insufficient' : 'pass';
  return { ...base, verdict, reasons, ...(failedGate ? { failedGate } : {}) };
}

const fmtMs = (n: number | null) => (n === null ? 'n/a' : `${Math.round(n * 10) / 10} ms`);

/** The check due at nextCheckAt: advance, hold, promote or roll back. */
export function checkRollout(s: CanaryStatus, totals: Totals, now: number): CanaryStatus {
  if (s.state !== 'progressing') return s;
  const check = evaluateGates(s, totals, now);
  const next: CanaryStatus = { ...s, lastCheck: check, stableP99RefMs: check.stableP99Ms ?? s.stableP99RefMs, updatedAt: now };
  if (check.verdict === 'fail') {
    const at = isMirroring(s) ? `on mirrored copies (${s.mirrorPercent}%)` : `at ${s.weight}%`;
    const reason = `gate ${check.failedGate} failed ${at}: ${check.reasons.filter((r) => r.includes(' > ')).join('; ')}`;
    return log({ ...next, mirrorPercent: undefined, state: 'rolled-back', weight: 0, nextCheckAt: undefined, reason, nextSteps: [`inspect the ${s.canary} containers (kept)`, `start again with \`meshctl canary start ${s.service} --version ${s.canary}\``] }, now, 'rolled-back', reason);
  }
  if (check.verdict === 'insufficient') {
    return log({ ...next, nextCheckAt: now + s.intervalMs }, now, 'hold', check.reasons.filter((r) => r.startsWith('insufficient')).join('; '));
  }
  if (s.manual) return log({ ...next, nextCheckAt: now + s.intervalMs }, now, 'hold', `manual weight ${s.weight}%: gates pass; \`meshctl canary resume ${s.service}\` to continue stepping`);
  if (isMirroring(s)) return enterStep(next, 0, totals, now, 'advanced');
  if (s.step >= s.steps.length - 1) return promoteRollout(next, now, 'gates passed at 100%');
  return enterStep(next, s.step + 1, totals, now, 'advanced');
}

export function promoteRollout(s: CanaryStatus, now: number, why = 'promoted by hand'): CanaryStatus {
  return log(
    { ...s, mirrorPercent: undefined, state: 'promoted', weight: 100, manual: false, nextCheckAt: undefined, reason: why, nextSteps: [`retire ${s.stable}: stop its containers (the canary weight is 100%, ${s.stable} gets no traffic)`] },
    now,
    'promoted',
    why,
  );
}

export function abortRollout(s: CanaryStatus, now: number): CanaryStatus {
  return log({ ...s, mirrorPercent: undefined, state: 'aborted', weight: 0, manual: false, nextCheckAt: undefined, reason: 'aborted by hand', nextSteps: [`remove the ${s.canary} containers when done inspecting`] }, now, 'aborted');
}

export function pauseRollout(s: CanaryStatus, now: number): CanaryStatus {
  return log({ ...s, state: 'paused', nextCheckAt: undefined }, now, 'paused', `held at ${s.weight}%`);
}

/** Resume after pause or manual mode: a fresh window at the current step (or the first step above a manual weight). */
export function resumeRollout(s: CanaryStatus, totals: Totals, now: number): CanaryStatus {
  if (isMirroring(s)) return enterMirror({ ...s, state: 'progressing' }, totals, now, 'resumed');
  let step = s.step < 0 ? 0 : s.step;
  if (s.manual) {
    const above = s.steps.findIndex((w) => w > s.weight);
    step = above === -1 ? s.steps.length - 1 : above;
  }
  return enterStep({ ...s, state: 'progressing' }, step, totals, now, 'resumed');
}

/** Manual mode: hold this weight; gates still run (and can roll back) but never advance. */
export function setWeight(s: CanaryStatus, weight: number, totals: Totals, now: number): CanaryStatus {
  return log(
    { ...s, mirrorPercent: undefined, state: 'progressing', manual: true, weight, stepStartedAt: now, nextCheckAt: now + s.intervalMs, baseline: structuredClone(totals ?? {}) },
    now,
    'manual',
    `weight set to ${weight}%`,
  );
}

/**
 * Percent per version that the override should carry. A version at 0 % is left out rather than weighted 0, so
 * retiring the stable version after a promotion (or removing a rolled-back canary) leaves no dangling subset.
 */
export function weightsOf(s: CanaryStatus): Record<string, number> {
  if (s.weight <= 0) return { [s.stable]: 100 };
  if (s.weight >= 100) return { [s.canary]: 100 };
  return { [s.stable]: 100 - s.weight, [s.canary]: s.weight };
}

/** Appends an event to the bounded history. */
export function log(s: CanaryStatus, now: number, event: string, detail?: string): CanaryStatus {
  const history = [...s.history, { at: now, event, ...(detail ? { detail } : {}) }].slice(-MAX_HISTORY);
  return { ...s, history, updatedAt: now };
}
