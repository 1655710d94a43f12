// The canary rollout contract: what `meshctl canary start` asks for, the
// rollout's state as the controller keeps (and persists) it, and the API
// bodies. Types come from these schemas only.
import { z } from 'zod';

const versionName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a version label such as v2');

/** p99 limit: absolute milliseconds, or a factor of the stable version's p99 in the same window. */
export const P99Gate = z.union([
  z.object({ ms: z.number().positive() }).strict(),
  z.object({ relative: z.number().positive() }).strict(),
]);
export type P99Gate = z.infer<typeof P99Gate>;

export const CanaryGates = z
  .object({
    // Requests the canary must have served in the step's window before any verdict.
    minRequests: z.number().int().min(1).default(20),
    // Fraction of 5xx answers, 0..1.
    maxErrorRate: z.number().min(0).max(1).default(0.01),
    maxP99: P99Gate.optional(),
  })
  .strict();
export type CanaryGates = z.infer<typeof CanaryGates>;

const steps = z
  .array(z.number().int().min(0).max(100))
  .min(1)
  .refine((s) => s.every((w, i) => i === 0 || w > s[i - 1]!), 'steps must increase')
  .refine((s) => s[s.length - 1] === 100, 'the last step must be 100');

/** POST /v1/canary. `version` names a running subset; `image` asks the controller to start one (Docker only). */
export const CanaryStart = z
  .object({
    service: z.string().min(1),
    version: versionName.optional(),
    image: z.string().min(1).optional(),
    // The version that serves today; default: the only other version running.
    stable: versionName.optional(),
    steps: steps.default([5, 25, 50, 100]),
    intervalMs: z.number().int().min(100).default(30_000),
    gates: CanaryGates.default({ minRequests: 20, maxErrorRate: 0.01 }),
    // Requests carrying this header reach the canary at any weight.
    header: z.object({ name: z.string().min(1).transform((s) => s.toLowerCase()), value: z.string().min(1) }).strict().optional(),
    // Synthetic GETs the controller sends during the rollout (interval/10) so a quiet service still gets samples.
    checkUrl: z.url().optional(),
    // Percent of requests to copy to the canary (answers discarded) for one interval before any real traffic
    // moves; the copies' answers are judged by the same gates.
    mirrorPercent: z.number().min(0).max(100).optional(),
  })
  .strict()
  .refine((b) => b.version || b.image, { message: 'give version (a running subset) or image', path: ['version'] });
export type CanaryStart = z.infer<typeof CanaryStart>;

/** PUT /v1/canary/<service>/weight: manual mode. */
export const CanaryWeightPut = z.object({ weight: z.number().int().min(0).max(100) }).strict();

export const CanaryState = z.enum(['pending', 'progressing', 'paused', 'promoted', 'rolled-back', 'aborted']);
export type CanaryState = z.infer<typeof CanaryState>;

/** Cumulative counters of one version, summed over the proxies (inbound side). */
export const VersionTotals = z.object({
  requests: z.number(),
  errors: z.number(),
  // [le seconds (Infinity as null), cumulative count]
  buckets: z.array(z.tuple([z.number().nullable(), z.number()])),
});
export type VersionTotals = z.infer<typeof VersionTotals>;

/** Key of a version's mirrored-copy totals in the figures (a version label never holds ':'). */
export const mirrorFiguresKey = (version: string) => `mirror:${version}`;

/** One gate evaluation over the step's window. */
export const CanaryCheck = z.object({
  at: z.number(),
  verdict: z.enum(['pass', 'fail', 'insufficient']),
  requests: z.number(),
  errors: z.number(),
  errorRate: z.number().nullable(),
  p99Ms: z.number().nullable(),
  stableRequests: z.number(),
  stableP99Ms: z.number().nullable(),
  // One line per gate: "error rate 20.0% > 1.0% (40 of 200)".
  reasons: z.array(z.string()),
  failedGate: z.enum(['error-rate', 'p99']).optional(),
});
export type CanaryCheck = z.infer<typeof CanaryCheck>;

export const CanaryEvent = z.object({ at: z.number(), event: z.string(), detail: z.string().optional() });

export const CanaryStatus = z.object({
  service: z.string(),
  stable: z.string(),
  canary: z.string(),
  image: z.string().optional(),
  steps: z.array(z.number()),
  intervalMs: z.number(),
  gates: CanaryGates,
  header: z.object({ name: z.string(), value: z.string() }).optional(),
  checkUrl: z.string().optional(),
  state: CanaryState,
  // Percent of requests copied to the canary; set only during the mirror phase (step -1, weight 0).
  mirrorPercent: z.number().optional(),
  // Index into steps; -1 before the first step.
  step: z.number().int(),
  // Percent of traffic on the canary now.
  weight: z.number(),
  // Set by `canary set`: the engine holds this weight and stops stepping until resume.
  manual: z.boolean(),
  startedAt: z.number(),
  stepStartedAt: z.number(),
  nextCheckAt: z.number().optional(),
  // Counters at the start of the step's window, per version, to diff against.
  baseline: z.record(z.string(), VersionTotals),
  // Last stable p99 seen with enough samples, for the relative gate at 100 %.
  stableP99RefMs: z.number().nullable(),
  lastCheck: CanaryCheck.optional(),
  reason: z.string().optional(),
  nextSteps: z.array(z.string()),
  checkTraffic: z.object({ sent: z.number(), failed: z.number() }).optional(),
  // After promotion: the stable version's containers are stopped and removed once no traffic reaches them.
  retirement: z
    .object({
      state: z.enum(['waiting', 'done', 'failed']),
      // Containers stopped and removed.
      containers: z.number().optional(),
      detail: z.string().optional(),
    })
    .optional(),
  history: z.array(CanaryEvent),
  updatedAt: z.number(),
});
export type CanaryStatus = z.infer<typeof CanaryStatus>;

export const CanaryList = z.object({ rollouts: z.array(CanaryStatus) });
export type CanaryList = z.infer<typeof CanaryList>;

/** The persisted file: state-dir/canary.json. */
export const CanaryFile = z.object({ rollouts: z.record(z.string(), CanaryStatus).default({}) });
export type CanaryFile = z.infer<typeof CanaryFile>;
