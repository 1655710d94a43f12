// Canary rollouts against a real controller and real proxies: the weights
// each step pushes are the split clients see (within 5 points), the test
// header reaches the canary at weight 0, a restart resumes at the same step,
// and a failing canary is rolled back by the timer with its numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../harness/eventually.ts';
import { api } from '../../harness/controller-harness.ts';
import { startCanaryMesh } from './canary-mesh.ts';

const N = 1000;

test('steps push the weights clients see; the header reaches the canary at 0 %; a restart resumes the step', async (t) => {
  const mesh = await startCanaryMesh(t);
  let ctl = mesh.first;
  const bad = await api(ctl.url, 'POST', '/v1/canary', { service: 'product', version: 'v2', steps: [50, 10] });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error, /steps/);
  assert.equal((await api(ctl.url, 'POST', '/v1/canary', { service: 'nope', version: 'v2' })).status, 404);
  assert.equal((await api(ctl.url, 'POST', '/v1/canary', { service: 'product', version: 'v7' })).status, 404);
  const mirror = await api(ctl.url, 'POST', '/v1/canary', { service: 'product', version: 'v2', mirrorPercent: 150 });
  assert.equal(mirror.status, 400);
  assert.match(mirror.body.error, /mirrorPercent/);

  const started = await api(ctl.url, 'POST', '/v1/canary', {
    service: 'product',
    version: 'v2',
    steps: [0, 10, 50, 100],
    intervalMs: 300,
    gates: { minRequests: 20, maxErrorRate: 0.01 },
    header: { name: 'x-canary', value: '1' },
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  assert.equal(started.body.weight, 0);
  assert.equal((await api(ctl.url, 'POST', '/v1/canary', { service: 'product', version: 'v2' })).status, 409);
  const badWeight = await api(ctl.url, 'PUT', '/v1/canary/product/weight', { weight: 150 });
  assert.equal(badWeight.status, 400);
  assert.match(badWeight.body.error, /weight/);
  assert.equal((await api(ctl.url, 'POST', '/v1/canary/nope/promote')).status, 404);

  const atStep = async (weight: number) => {
    assert.deepEqual(await mesh.pushedWeights(ctl.url), weight === 0 ? { v1: 100 } : weight === 100 ? { v2: 100 } : { v1: 100 - weight, v2: weight });
    await mesh.inSync(ctl.url);
    const { share, failed } = await mesh.load(N);
    assert.equal(failed, 0);
    assert.ok(Math.abs(share * 100 - weight) <= 5, `at ${weight}% the canary served ${(share * 100).toFixed(1)}%`);
  };

  // Weight 0: only requests with the header reach v2.
  await atStep(0);
  const tagged = await mesh.load(50, { 'x-canary': '1' });
  assert.equal(tagged.share, 1, 'every request with x-canary: 1 reached v2 at weight 0');

  // The window of step 1 has >= 20 canary requests (the tagged ones) and no errors: advance by hand-driven ticks.
  const advanceTo = async (weight: number) => {
    await eventually(async () => {
      ctl.core.canary.tick();
      const s = (await api(ctl.url, 'GET', '/v1/canary/product')).body;
      assert.equal(s.weight, weight, JSON.stringify(s.lastCheck));
    });
  };
  await advanceTo(10);
  await atStep(10);
  await advanceTo(50);
  await atStep(50);

  // Restart mid-rollout: same port and state dir; the rollout is still at 50 %.
  const before = (await api(ctl.url, 'GET', '/v1/canary/product')).body;
  await ctl.close();
  ctl = await mesh.controller();
  // The first call may meet a pooled keep-alive socket of the old server: retry it.
  const after = (await eventually(() => api(ctl.url, 'GET', '/v1/canary/product'))).body;
  assert.equal(after.state, 'progressing');
  assert.equal(after.step, before.step);
  assert.equal(after.weight, 50);
  await mesh.inSync(ctl.url);
  await atStep(50);
  await advanceTo(100);
  await atStep(100);
  await eventually(async () => {
    ctl.core.canary.tick();
    assert.equal((await api(ctl.url, 'GET', '/v1/canary/product')).body.state, 'promoted');
  });
  const list = (await api(ctl.url, 'GET', '/v1/canary')).body;
  assert.equal(list.rollouts.length, 1);
  assert.match(list.rollouts[0].nextSteps.join(' '), /retire v1/);
  assert.equal((await api(ctl.url, 'POST', '/v1/canary/product/abort')).status, 409, 'an ended rollout cannot be aborted');
});

test('a canary failing 20 % of its requests is rolled back by the timer: weight 0 pushed, containers kept', async (t) => {
  const mesh = await startCanaryMesh(t);
  await mesh.first.close();
  const ctl = await mesh.controller(50); // the real timer this time
  mesh.apps.find((a) => a.version === 'v2')!.failEvery = 5;
  const r = await api(ctl.url, 'POST', '/v1/canary', { service: 'product', version: 'v2', steps: [20, 100], intervalMs: 300, gates: { minRequests: 20, maxErrorRate: 0.01 } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await mesh.inSync(ctl.url);
  let clientFailures = 0;
  let sent = 0;
  const s = await eventually(
    async () => {
      const l = await mesh.load(100);
      clientFailures += l.failed;
      sent += 100;
      const s = (await api(ctl.url, 'GET', '/v1/canary/product')).body;
      assert.equal(s.state, 'rolled-back');
      return s;
    },
    { timeoutMs: 20_000 },
  );
  assert.equal(s.weight, 0);
  assert.equal(s.lastCheck.failedGate, 'error-rate');
  assert.match(s.reason, /error rate \d+\.\d% > 1\.0% \(\d+ of \d+ requests failed\)/);
  assert.ok(clientFailures / sent <= 0.2 * 0.2 + 0.03, `client error rate ${clientFailures}/${sent} stays near the step weight × canary error rate`);
  assert.deepEqual(await mesh.pushedWeights(ctl.url), { v1: 100 });
  await mesh.inSync(ctl.url);
  assert.equal((await mesh.load(200)).share, 0, 'no request reaches the rolled-back canary');
  // The canary's endpoints are still in the registry (kept for inspection).
  const svc = (await api(ctl.url, 'GET', '/v1/services')).body.services.find((x: { name: string }) => x.name === 'product');
  assert.deepEqual(svc.versions, ['v1', 'v2']);
});

test('--check-url traffic from the controller gives a quiet service enough samples to be promoted', async (t) => {
  // Permissive mTLS on product: the controller's plain GETs enter its sidecar like a caller's would.
  const mesh = await startCanaryMesh(t, { mtls: 'permissive' });
  await mesh.first.close();
  const ctl = await mesh.controller(20);
  // product's sidecar, inbound side on the mesh network: the same split as callers get.
  const checkUrl = `http://127.0.20.2:${mesh.port}/`;
  const r = await api(ctl.url, 'POST', '/v1/canary', { service: 'product', version: 'v2', steps: [50, 100], intervalMs: 300, gates: { minRequests: 5, maxErrorRate: 0.01 }, checkUrl });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const s = await eventually(
    async () => {
      const s = (await api(ctl.url, 'GET', '/v1/canary/product')).body;
      assert.equal(s.state, 'promoted', JSON.stringify(s.lastCheck));
      return s;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  assert.ok(s.checkTraffic.sent >= 10, JSON.stringify(s.checkTraffic));
  assert.equal(s.checkTraffic.failed, 0);
  assert.ok(mesh.apps.find((a) => a.version === 'v2')!.served >= 10);
});
