// The engine judged on what the proxies report: the controller's scrape of
// each proxy's `destination_version` label, not the apps' own counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../harness/eventually.ts';
import { api } from '../../harness/controller-harness.ts';
import { startCanaryMesh } from './canary-mesh.ts';

test('per-version figures from the proxies drive a rollout to promotion, and a failing canary to rollback', { timeout: 60_000 }, async (t) => {
  const mesh = await startCanaryMesh(t, { figures: 'proxies' });
  await mesh.first.close();
  const ctl = await mesh.controller(50);
  await mesh.inSync(ctl.url);

  // /v1/metrics breaks the product service down by version.
  await eventually(
    async () => {
      await mesh.load(100);
      const m = (await api(ctl.url, 'GET', '/v1/metrics')).body;
      const versions = (m.versions ?? []).filter((v: { service: string }) => v.service === 'product').map((v: { version: string }) => v.version);
      assert.deepEqual(versions, ['v1', 'v2'], JSON.stringify(m.versions));
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );

  let stop = false;
  let failed = 0;
  const why: string[] = [];
  const loop = (async () => {
    while (!stop) {
      const l = await mesh.load(40);
      failed += l.failed;
      why.push(...l.errors);
    }
  })();
  t.after(async () => {
    stop = true;
    await loop;
  });
  const good = await api(ctl.url, 'POST', '/v1/canary', { service: 'product', version: 'v2', steps: [20, 60, 100], intervalMs: 400, gates: { minRequests: 20, maxErrorRate: 0.01, maxP99: { relative: 5 } } });
  assert.equal(good.status, 200, JSON.stringify(good.body));
  const done = await eventually(
    async () => {
      const s = (await api(ctl.url, 'GET', '/v1/canary/product')).body;
      assert.ok(s.state !== 'progressing', `${s.state} ${s.weight}% ${JSON.stringify(s.lastCheck)}`);
      return s;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  assert.equal(done.state, 'promoted', JSON.stringify(done.lastCheck) + ' client: ' + failed + ' ' + why.slice(0, 5).join('; '));
  assert.ok(done.lastCheck.requests >= 20 && done.lastCheck.errors === 0, JSON.stringify(done.lastCheck));
  assert.equal(failed, 0, why.join('; '));

  // Back to v1 for the next rollout, then a canary that fails one request in five.
  assert.equal((await api(ctl.url, 'PUT', '/v1/overrides', { service: 'product', weights: { v1: 100, v2: 0 } })).status, 200);
  mesh.apps.find((a) => a.version === 'v2')!.failEvery = 5;
  const badStart = await api(ctl.url, 'POST', '/v1/canary', { service: 'product', version: 'v2', steps: [20, 100], intervalMs: 400 });
  assert.equal(badStart.status, 200, JSON.stringify(badStart.body));
  const rolled = await eventually(
    async () => {
      const s = (await api(ctl.url, 'GET', '/v1/canary/product')).body;
      assert.equal(s.state, 'rolled-back', `${s.state} ${JSON.stringify(s.lastCheck)}`);
      return s;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  assert.equal(rolled.lastCheck.failedGate, 'error-rate');
  // The baseline is the last scrape before the step began (<= 200 ms old here), so the window may also hold a few of
  // v2's good answers from just before. v2 fails exactly every fifth request, so a window of n requests holds at
  // most ceil(n / 5) failures (6 of 27 when it starts on one): above the 1 % gate, never more than v2 failed.
  const { requests, errors, errorRate } = rolled.lastCheck;
  assert.ok(errorRate > 0.01 && errors <= Math.ceil(requests / 5) && Math.abs(errorRate - errors / requests) < 1e-9, JSON.stringify(rolled.lastCheck));
  assert.deepEqual(await mesh.pushedWeights(ctl.url), { v1: 100 });
});
