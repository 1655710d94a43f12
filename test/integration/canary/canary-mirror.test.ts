// `canary start --mirror` against a real controller and real proxies: for one
// interval the product sidecar copies requests to v2 and drops its answers, so
// clients only ever get v1; the gates judge the copies' answers (from the
// proxies' mesh_mirror_* figures) and then real traffic moves step by step, or,
// for a canary that fails its copies, the rollout ends before any client saw it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../harness/eventually.ts';
import { api } from '../../harness/controller-harness.ts';
import { startCanaryMesh } from './canary-mesh.ts';

const mirroredRoute = async (ctlUrl: string) => {
  const snap = (await api(ctlUrl, 'GET', '/v1/snapshots/product-mesh')).body;
  return snap.listeners.find((l: { direction: string }) => l.direction === 'inbound').routes.find((r: { name: string }) => r.name.endsWith(':default')).mirror;
};

test('--mirror copies requests to the canary before any real traffic moves, then steps on', { timeout: 60_000 }, async (t) => {
  const mesh = await startCanaryMesh(t, { figures: 'proxies' });
  await mesh.first.close();
  const ctl = await mesh.controller(50);
  await mesh.inSync(ctl.url);
  const v2 = mesh.apps.find((a) => a.version === 'v2')!;
  const r = await api(ctl.url, 'POST', '/v1/canary', { service: 'product', version: 'v2', mirrorPercent: 100, steps: [50, 100], intervalMs: 1500, gates: { minRequests: 20, maxErrorRate: 0.01 } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.step, -1);
  assert.equal(r.body.mirrorPercent, 100);
  assert.deepEqual(await mirroredRoute(ctl.url), { cluster: `in:product:${mesh.port}:v2`, percent: 100 });
  await mesh.inSync(ctl.url);

  // Mirror phase: every client answer comes from v1, and v2 serves the copies.
  const l = await mesh.load(100);
  assert.equal(l.failed, 0);
  assert.equal(l.share, 0, 'no client request is answered by the canary');
  await eventually(() => assert.ok(v2.served >= 100, `v2 served ${v2.served} copies`));

  // Enough copies in the window: the rollout moves real traffic, and the copies stop.
  let stop = false;
  const loop = (async () => {
    while (!stop) await mesh.load(40);
  })();
  t.after(async () => {
    stop = true;
    await loop;
  });
  const s = await eventually(
    async () => {
      const s = (await api(ctl.url, 'GET', '/v1/canary/product')).body;
      assert.ok(s.step >= 0, JSON.stringify(s.lastCheck));
      return s;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  assert.ok(s.history.some((e: { event: string; detail?: string }) => e.event === 'started' && /mirror: 100% of requests copied to v2/.test(e.detail ?? '')));
  assert.equal(await mirroredRoute(ctl.url), undefined);
  await eventually(async () => assert.equal((await api(ctl.url, 'GET', '/v1/canary/product')).body.state, 'promoted'), { timeoutMs: 20_000, intervalMs: 200 });

});

test('a canary failing its copies is rolled back during the mirror phase; no client sees a failure', { timeout: 60_000 }, async (t) => {
  const mesh = await startCanaryMesh(t, { figures: 'proxies' });
  await mesh.first.close();
  const ctl = await mesh.controller(50);
  await mesh.inSync(ctl.url);
  mesh.apps.find((a) => a.version === 'v2')!.failEvery = 2;
  const r = await api(ctl.url, 'POST', '/v1/canary', { service: 'product', version: 'v2', mirrorPercent: 100, intervalMs: 500, gates: { minRequests: 20, maxErrorRate: 0.01 } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await mesh.inSync(ctl.url);
  let failed = 0;
  const s = await eventually(
    async () => {
      failed += (await mesh.load(50)).failed;
      const s = (await api(ctl.url, 'GET', '/v1/canary/product')).body;
      assert.equal(s.state, 'rolled-back', JSON.stringify(s.lastCheck));
      return s;
    },
    { timeoutMs: 20_000 },
  );
  assert.equal(failed, 0);
  assert.equal(s.weight, 0);
  assert.match(s.reason, /gate error-rate failed on mirrored copies \(100%\): error rate 50\.0% > 1\.0%/);
  assert.equal(await mirroredRoute(ctl.url), undefined);
});
