// The rollout engine through its runner, with fixed per-version figures and a
// fake clock: stepping, holding on too few samples, rollback on each gate,
// pause/resume, manual weight, and resuming from the persisted state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CanaryRunner, HEADER_ROUTE } from '../../../src/controller/canary/canary-runner.ts';
import { CanaryStore } from '../../../src/controller/canary/canary-store.ts';
import { CanaryStart, mirrorFiguresKey, type CanaryStatus } from '../../../src/shared/canary.ts';
import { MeshError } from '../../../src/shared/errors.ts';
import { fakeClock, fakeHost, FixedFigures } from './fixed-figures.ts';
import { eventually } from '../../harness/eventually.ts';

const INTERVAL = 30_000;

function setup(t: { after(fn: () => void): void }, dir?: string) {
  const stateDir = dir ?? mkdtempSync(join(tmpdir(), 'meshctl-canary-'));
  if (!dir) t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const figures = new FixedFigures();
  const clock = fakeClock();
  const h = fakeHost({ shop: ['v1', 'v2'], cart: ['v1'] });
  const make = () => new CanaryRunner({ store: new CanaryStore(stateDir), figures, host: h.host, now: clock.now, tickMs: 0 });
  const runner = make();
  runner.start();
  t.after(() => runner.stop());
  return { runner, figures, clock, ...h, stateDir, make };
}

const start = (extra: Partial<CanaryStart> = {}) => CanaryStart.parse({ service: 'shop', version: 'v2', intervalMs: INTERVAL, ...extra });

/** One interval of traffic split by the current weight, then the check. */
function interval(env: ReturnType<typeof setup>, n: number, canary: { errors?: number; latencyMs?: number } = {}, stableLatencyMs = 5): CanaryStatus {
  const s = env.runner.get('shop');
  env.figures.serve('v2', Math.round((n * s.weight) / 100), canary);
  env.figures.serve('v1', n - Math.round((n * s.weight) / 100), { latencyMs: stableLatencyMs });
  env.clock.advance(INTERVAL);
  env.runner.tick();
  return env.runner.get('shop');
}

test('a good canary walks every step to 100 % and is promoted', (t) => {
  const env = setup(t);
  const s0 = env.runner.begin(start());
  assert.equal(s0.state, 'progressing');
  assert.equal(s0.weight, 5);
  assert.deepEqual(env.overrides.get('shop')?.weights, { v1: 95, v2: 5 });
  const seen: number[] = [];
  for (const _ of [25, 50, 100]) {
    const s = interval(env, 1000);
    seen.push(s.weight);
    assert.equal(s.state, 'progressing');
    assert.equal(s.lastCheck?.verdict, 'pass');
    assert.deepEqual(env.overrides.get('shop')?.weights, s.weight === 100 ? { v2: 100 } : { v1: 100 - s.weight, v2: s.weight });
  }
  assert.deepEqual(seen, [25, 50, 100]);
  const done = interval(env, 1000);
  assert.equal(done.state, 'promoted');
  assert.deepEqual(env.overrides.get('shop')?.weights, { v2: 100 }, 'v1 left out, so retiring it leaves no dangling subset');
  assert.match(done.nextSteps.join('\n'), /retire v1/);
});

test('a canary failing 20 % of requests is rolled back at the first check, with the numbers', (t) => {
  const env = setup(t);
  env.runner.begin(start({ steps: [10, 50, 100] }));
  const s = interval(env, 1000, { errors: 20 }); // 100 requests to the canary, 20 failed
  assert.equal(s.state, 'rolled-back');
  assert.equal(s.weight, 0);
  assert.equal(s.lastCheck?.failedGate, 'error-rate');
  assert.equal(s.lastCheck?.requests, 100);
  assert.equal(s.lastCheck?.errors, 20);
  assert.match(s.reason!, /error rate 20\.0% > 1\.0% \(20 of 100 requests failed\)/);
  assert.deepEqual(env.overrides.get('shop')?.weights, { v1: 100 });
  assert.throws(() => env.runner.promote('shop'), (e: MeshError) => e.code === 'MESH_ERR_CONFLICT');
});

test('a slow canary fails the absolute p99 gate', (t) => {
  const env = setup(t);
  env.runner.begin(start({ gates: { minRequests: 20, maxErrorRate: 0.01, maxP99: { ms: 200 } } }));
  const s = interval(env, 1000, { latencyMs: 400 });
  assert.equal(s.state, 'rolled-back');
  assert.equal(s.lastCheck?.failedGate, 'p99');
  assert.match(s.reason!, /p99 \d+(\.\d+)? ms > 200 ms/);
  assert.ok(s.lastCheck!.p99Ms! > 250, String(s.lastCheck?.p99Ms));
});

test('the relative p99 gate compares with the stable version in the same window', (t) => {
  const ok = setup(t);
  ok.runner.begin(start({ gates: { minRequests: 20, maxErrorRate: 0.01, maxP99: { relative: 1.5 } } }));
  const pass = interval(ok, 1000, { latencyMs: 40 }, 40);
  assert.equal(pass.state, 'progressing');
  assert.equal(pass.weight, 25, JSON.stringify(pass.lastCheck));

  const slow = setup(t);
  slow.runner.begin(start({ gates: { minRequests: 20, maxErrorRate: 0.01, maxP99: { relative: 1.5 } } }));
  const fail = interval(slow, 1000, { latencyMs: 200 }, 20);
  assert.equal(fail.state, 'rolled-back');
  assert.equal(fail.lastCheck?.failedGate, 'p99');
  assert.match(fail.reason!, /> 1\.5x stable p99/);
});

test('with no traffic the rollout holds with "insufficient samples" and never promotes', (t) => {
  const env = setup(t);
  env.runner.begin(start());
  for (let i = 0; i < 5; i++) {
    env.clock.advance(INTERVAL);
    env.runner.tick();
  }
  const s = env.runner.get('shop');
  assert.equal(s.state, 'progressing');
  assert.equal(s.weight, 5);
  assert.equal(s.lastCheck?.verdict, 'insufficient');
  assert.match(s.lastCheck!.reasons[0]!, /insufficient samples: 0 of 20 requests to v2/);
  // Samples accumulate over the held window: 12 + 12 requests pass the 20 minimum.
  env.figures.serve('v2', 12);
  env.clock.advance(INTERVAL);
  env.runner.tick();
  assert.equal(env.runner.get('shop').weight, 5);
  env.figures.serve('v2', 12);
  env.clock.advance(INTERVAL);
  env.runner.tick();
  assert.equal(env.runner.get('shop').weight, 25);
});

test('pause holds the weight; resume starts a fresh window at the same step', (t) => {
  const env = setup(t);
  env.runner.begin(start());
  interval(env, 1000);
  assert.equal(env.runner.pause('shop').state, 'paused');
  const held = interval(env, 1000);
  assert.equal(held.state, 'paused');
  assert.equal(held.weight, 25);
  const resumed = env.runner.resume('shop');
  assert.equal(resumed.state, 'progressing');
  assert.equal(resumed.step, 1);
  // Errors served while paused do not count in the resumed window.
  assert.equal(interval(env, 1000).weight, 50);
});

test('manual mode holds the set weight, still rolls back on a failed gate, and resume continues above it', (t) => {
  const env = setup(t);
  env.runner.begin(start());
  const s = env.runner.setWeight('shop', 10);
  assert.equal(s.weight, 10);
  assert.deepEqual(env.overrides.get('shop')?.weights, { v1: 90, v2: 10 });
  const held = interval(env, 1000);
  assert.equal(held.weight, 10);
  assert.equal(held.lastCheck?.verdict, 'pass');
  assert.equal(env.runner.resume('shop').weight, 25);
  env.runner.setWeight('shop', 40);
  const bad = interval(env, 1000, { errors: 100 });
  assert.equal(bad.state, 'rolled-back');
});

test('header route sends matching requests to the canary at any weight; abort goes back to stable', (t) => {
  const env = setup(t);
  env.overrides.set('shop', { fault: { abort: { percent: 1, httpStatus: 503 } } } as never);
  env.runner.begin(start({ steps: [0, 50, 100], header: { name: 'X-Canary', value: '1' } }));
  const o = env.overrides.get('shop')!;
  assert.deepEqual(o.weights, { v1: 100 });
  assert.equal(o.routes?.[0]?.name, HEADER_ROUTE);
  assert.deepEqual(o.routes?.[0]?.match.headers?.[0], { name: 'x-canary', exact: '1', invert: false });
  assert.deepEqual(o.routes?.[0]?.to, [{ version: 'v2', weight: 1 }]);
  assert.ok(o.fault, 'the rollout keeps the rest of the override');
  assert.deepEqual(o.propagateHeaders, ['x-canary'], 'every proxy carries the header downstream');
  const a = env.runner.abort('shop');
  assert.equal(a.state, 'aborted');
  assert.deepEqual(env.overrides.get('shop')?.weights, { v1: 100 });
  assert.equal(env.overrides.get('shop')?.routes, undefined);
  assert.equal(env.overrides.get('shop')?.propagateHeaders, undefined);
  assert.ok(env.overrides.get('shop')?.fault);
});

test('--mirror: one interval of copies at weight 0, judged on the copies\' answers, then the steps', (t) => {
  const env = setup(t);
  const s0 = env.runner.begin(start({ mirrorPercent: 100 }));
  assert.equal(s0.state, 'progressing');
  assert.equal(s0.step, -1);
  assert.equal(s0.weight, 0);
  assert.deepEqual(env.overrides.get('shop'), { weights: { v1: 100 }, mirror: { version: 'v2', percent: 100 } });
  // Real traffic only on v1: the copies' figures are what the gates read.
  env.figures.serve('v1', 500);
  env.clock.advance(INTERVAL);
  env.runner.tick();
  const held = env.runner.get('shop');
  assert.equal(held.step, -1);
  assert.match(held.lastCheck!.reasons.join(' '), /insufficient samples: 0 of 20 mirrored copies to v2/);
  env.figures.serve(mirrorFiguresKey('v2'), 200);
  env.clock.advance(INTERVAL);
  env.runner.tick();
  const s1 = env.runner.get('shop');
  assert.equal(s1.step, 0);
  assert.equal(s1.weight, 5);
  assert.equal(s1.mirrorPercent, undefined);
  assert.deepEqual(env.overrides.get('shop')?.weights, { v1: 95, v2: 5 });
  assert.equal(env.overrides.get('shop')?.mirror, undefined, 'copies stop once real traffic moves');

  // A canary failing its copies is rolled back before any real request reaches it.
  env.runner.abort('shop');
  env.runner.begin(start({ mirrorPercent: 50 }));
  env.figures.serve(mirrorFiguresKey('v2'), 100, { errors: 30 });
  env.clock.advance(INTERVAL);
  env.runner.tick();
  const bad = env.runner.get('shop');
  assert.equal(bad.state, 'rolled-back');
  assert.match(bad.reason!, /gate error-rate failed on mirrored copies \(50%\): error rate/);
  assert.equal(env.overrides.get('shop')?.mirror, undefined);
});

test('a restarted runner resumes at the same step with the same window', (t) => {
  const env = setup(t);
  env.runner.begin(start());
  interval(env, 1000);
  assert.equal(env.runner.get('shop').weight, 25);
  env.figures.serve('v2', 30); // served before the restart, inside step 2's window
  env.runner.stop();
  env.overrides.clear(); // the override is re-applied from the rollout's state
  const again = env.make();
  again.start();
  t.after(() => again.stop());
  const s = again.get('shop');
  assert.equal(s.state, 'progressing');
  assert.equal(s.step, 1);
  assert.deepEqual(env.overrides.get('shop')?.weights, { v1: 75, v2: 25 });
  // Just after a restart nothing is scraped yet: the check waits instead of judging.
  env.figures.scraped = false;
  env.clock.advance(INTERVAL);
  again.tick();
  assert.equal(again.get('shop').lastCheck?.at, s.lastCheck?.at);
  env.figures.scraped = true;
  again.tick();
  const next = again.get('shop');
  assert.equal(next.weight, 50, JSON.stringify(next.lastCheck));
  assert.equal(next.history.at(-1)?.event, 'advanced');
});

test('a restart before discovery knows the service keeps the persisted override, and a missing canary replica keeps its weight', (t) => {
  const env = setup(t);
  env.runner.begin(start());
  interval(env, 1000);
  env.runner.stop();
  const saved = env.versions.shop;
  delete env.versions.shop; // discovery not synced yet
  const puts = env.puts.length;
  const again = env.make();
  again.start();
  t.after(() => again.stop());
  assert.equal(env.puts.length, puts, 'nothing written for a service discovery does not know yet');
  assert.equal(again.get('shop').weight, 25);
  // The canary replica is gone for a moment while a step advances: its weight stays in the override.
  env.versions.shop = ['v1'];
  env.figures.serve('v2', 100);
  env.clock.advance(INTERVAL);
  again.tick();
  assert.deepEqual(env.overrides.get('shop')?.weights, { v1: 50, v2: 50 });
  env.versions.shop = saved;
});

test('start is refused with a reason: unknown service or version, a running rollout, --image without Docker', (t) => {
  const env = setup(t);
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as MeshError).code;
    }
    return 'none';
  };
  assert.equal(code(() => env.runner.begin(start({ service: 'nope' }))), 'MESH_ERR_NOT_FOUND');
  assert.equal(code(() => env.runner.begin(start({ version: 'v9' }))), 'MESH_ERR_NOT_FOUND');
  assert.equal(code(() => env.runner.begin(start({ service: 'cart', version: 'v1' }))), 'MESH_ERR_USAGE');
  assert.equal(code(() => env.runner.begin(start({ version: undefined, image: 'shop:2' }))), 'MESH_ERR_UNSUPPORTED');
  env.runner.begin(start());
  assert.equal(code(() => env.runner.begin(start())), 'MESH_ERR_CONFLICT');
  assert.equal(code(() => env.runner.get('cart')), 'MESH_ERR_NOT_FOUND');
});

test('the start schema rejects bad steps and needs a version or an image', () => {
  assert.equal(CanaryStart.safeParse({ service: 'shop', version: 'v2', steps: [50, 25, 100] }).success, false);
  assert.equal(CanaryStart.safeParse({ service: 'shop', version: 'v2', steps: [5, 25] }).success, false);
  assert.equal(CanaryStart.safeParse({ service: 'shop' }).success, false);
  const d = CanaryStart.parse({ service: 'shop', version: 'v2' });
  assert.deepEqual(d.steps, [5, 25, 50, 100]);
  assert.equal(d.intervalMs, 30_000);
  assert.deepEqual(d.gates, { minRequests: 20, maxErrorRate: 0.01 });
});

test('--image: pending until the launched version is discovered, then the first step; launch errors and timeouts end it', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'meshctl-canary-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const figures = new FixedFigures();
  const clock = fakeClock();
  const h = fakeHost({ shop: ['v1'] });
  const launched: string[] = [];
  let fail: Error | undefined;
  const launcher = {
    async launch(service: string, image: string, version: string) {
      launched.push(`${service} ${image} ${version}`);
      if (fail) throw fail;
    },
  };
  const runner = new CanaryRunner({ store: new CanaryStore(stateDir), figures, host: h.host, launcher, now: clock.now, tickMs: 0 });
  runner.start();
  const s = runner.begin(CanaryStart.parse({ service: 'shop', image: 'registry/shop:2.0', intervalMs: INTERVAL }));
  assert.equal(s.state, 'pending');
  assert.equal(s.canary, '2.0', 'the version label comes from the tag');
  assert.deepEqual(launched, ['shop registry/shop:2.0 2.0']);
  assert.deepEqual(h.overrides.get('shop')?.weights, { v1: 100 }, 'only the stable subset while the canary starts');
  runner.tick();
  assert.equal(runner.get('shop').state, 'pending');
  assert.throws(() => runner.promote('shop'), (e: MeshError) => e.code === 'MESH_ERR_CONFLICT', 'nothing to promote while the canary starts');
  h.versions.shop = ['v1', '2.0'];
  runner.tick();
  assert.equal(runner.get('shop').state, 'progressing');
  assert.deepEqual(h.overrides.get('shop')?.weights, { v1: 95, '2.0': 5 });
  runner.abort('shop');

  fail = new Error('image shop:3 is not on this Docker engine');
  runner.begin(CanaryStart.parse({ service: 'shop', image: 'shop:3', stable: 'v1' }));
  await new Promise((r) => setImmediate(r));
  assert.equal(runner.get('shop').state, 'aborted');
  assert.match(runner.get('shop').reason!, /could not start 3: image shop:3 is not on this Docker engine/);

  fail = undefined;
  runner.begin(CanaryStart.parse({ service: 'shop', image: 'shop:4', stable: 'v1' }));
  clock.advance(6 * 60_000);
  runner.tick();
  assert.equal(runner.get('shop').state, 'aborted');
  assert.match(runner.get('shop').reason!, /4 was not discovered as a healthy app of shop within 5 min/);
});

test('promotion retires the stable version once every proxy holds the new weights and its traffic stopped; the weights go', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'meshctl-canary-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const figures = new FixedFigures();
  const h = fakeHost({ shop: ['v1', 'v2'] });
  let synced = false;
  h.host.synced = () => synced;
  const retired: string[] = [];
  const launcher = { launch: async () => {}, retire: async (service: string, version: string) => (retired.push(`${service} ${version}`), 2) };
  const runner = new CanaryRunner({ store: new CanaryStore(stateDir), figures, host: h.host, launcher, tickMs: 0 });
  runner.start();
  t.after(() => runner.stop());
  runner.begin(start({ steps: [50, 100] }));
  const p = runner.promote('shop');
  assert.deepEqual(p.retirement, { state: 'waiting' });
  assert.deepEqual(h.overrides.get('shop')?.weights, { v2: 100 });
  runner.tick();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(retired, [], 'not while a proxy may still send to v1');
  synced = true;
  runner.tick();
  // Traffic to v1 still ending: its counter moves, so the retirement waits for a quiet second.
  setTimeout(() => figures.serve('v1', 10), 300);
  const done = await eventually(() => {
    const s = runner.get('shop');
    assert.equal(s.retirement?.state, 'done');
    return s;
  }, { timeoutMs: 10_000 });
  assert.deepEqual(retired, ['shop v1']);
  assert.equal(done.retirement?.containers, 2);
  assert.ok(done.history.some((e) => e.event === 'retired' && /v1: 2 containers stopped and removed/.test(e.detail ?? '')));
  assert.deepEqual(h.overrides.get('shop')?.weights, { v2: 100 }, 'kept while discovery still sees v1');
  h.versions.shop = ['v2'];
  runner.tick();
  assert.equal(h.overrides.get('shop')?.weights, undefined, 'one version is left: no weights');
  runner.tick();
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(retired, ['shop v1'], 'retired once');
});
