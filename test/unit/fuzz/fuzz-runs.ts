// How many cases each fuzz property tries: bounded in CI, larger on demand
// (FUZZ_RUNS=5000 npm run test:unit). A failure prints fast-check's seed and
// path, so `FUZZ_SEED=<seed>` replays it.
export const FUZZ = {
  numRuns: Number(process.env.FUZZ_RUNS) || 200,
  ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}),
};
