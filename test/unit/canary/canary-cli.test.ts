// `meshctl canary start` flags → API body, and the status text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildStartBody, parseP99, parseRate } from '../../../src/cli/canary/parse-canary-options.ts';
import { formatLive, formatRollout } from '../../../src/cli/canary/format-rollout.ts';
import { MeshError } from '../../../src/shared/errors.ts';
import { checkRollout, beginRollout, pendingRollout } from '../../../src/controller/canary/canary-engine.ts';
import { FixedFigures } from './fixed-figures.ts';

test('start flags become the POST /v1/canary body', () => {
  const b = buildStartBody('shop', { version: 'v2', steps: '10,50,100', interval: '300ms', minRequests: '50', maxErrorRate: '2%', maxP99: '1.5x', header: 'X-Canary=1', checkUrl: 'http://shop:8080/health' });
  assert.deepEqual(b, {
    service: 'shop',
    version: 'v2',
    steps: [10, 50, 100],
    intervalMs: 300,
    gates: { minRequests: 50, maxErrorRate: 0.02, maxP99: { relative: 1.5 } },
    header: { name: 'x-canary', value: '1' },
    checkUrl: 'http://shop:8080/health',
  });
  assert.deepEqual(parseP99('250ms'), { ms: 250 });
  assert.deepEqual(parseP99('2s'), { ms: 2000 });
  assert.equal(parseRate('0.05', 'x'), 0.05);
  assert.equal(buildStartBody('shop', { version: 'v2', mirror: '100%' }).mirrorPercent, 100);
});

test('bad flags are usage errors naming the flag', () => {
  const usage = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: MeshError) => e.code === 'MESH_ERR_USAGE' && re.test(e.message));
  usage(() => buildStartBody('shop', {}), /--version .* or --image/);
  usage(() => buildStartBody('shop', { version: 'v2', header: 'x-canary' }), /--header/);
  usage(() => buildStartBody('shop', { version: 'v2', maxP99: 'fast' }), /--max-p99/);
  usage(() => buildStartBody('shop', { version: 'v2', maxErrorRate: '200%' }), /--max-error-rate/);
  usage(() => buildStartBody('shop', { version: 'v2', steps: '5,25' }), /last step must be 100/);
});

test('status text shows step, weight and the numbers of the failed gate', () => {
  const f = new FixedFigures();
  const plan = { service: 'shop', canary: 'v2', stable: 'v1', steps: [5, 100], intervalMs: 1000, gates: { minRequests: 20, maxErrorRate: 0.01 } };
  let s = beginRollout(pendingRollout(plan, 0), f.totals(), 0);
  assert.match(formatRollout(s, 0), /shop {2}v1 → v2 {2}progressing {2}step 1\/2 {2}weight 5%/);
  f.serve('v2', 50, { errors: 10 });
  s = checkRollout(s, f.totals(), 1000);
  const text = formatRollout(s, 1000);
  assert.match(text, /rolled-back/);
  assert.match(text, /reason: gate error-rate failed at 5%: error rate 20\.0% > 1\.0% \(10 of 50 requests failed\)/);
});

test('live per-version figures print on one line', () => {
  const fig = { rps: 10, successRate: 0.95, p50Ms: 1, p95Ms: 2, p99Ms: 12.34, retries: 0, activeConnections: 0 };
  assert.equal(formatLive([{ service: 'shop', version: 'v1', ...fig }, { service: 'shop', version: 'v2', ...fig, successRate: null, p99Ms: null }]), '  live: v1 10 rps, success 95.0%, p99 12.3 ms · v2 10 rps, success n/a, p99 n/a\n');
  assert.equal(formatLive([]), '');
});
