// `meshctl canary` as a user runs it, against a real controller and proxies
// under load: --wait follows the rollout and exits 0 on promotion, 1 on
// rollback; status, set, pause, resume and abort reach the controller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meshctl } from '../top/small-mesh.ts';
import { TOKEN } from '../../harness/controller-harness.ts';
import { startCanaryMesh } from './canary-mesh.ts';

/** Keeps requests flowing until stopped; returns how many failed. */
function steadyLoad(mesh: Awaited<ReturnType<typeof startCanaryMesh>>) {
  let stop = false;
  let failed = 0;
  let sent = 0;
  const done = (async () => {
    while (!stop) {
      const r = await mesh.load(40);
      failed += Math.round(r.failed);
      sent += 40;
    }
  })();
  return async () => {
    stop = true;
    await done;
    return { failed, sent };
  };
}

test('canary start --wait exits 0 when a good canary is promoted, with zero failed requests', async (t) => {
  const mesh = await startCanaryMesh(t);
  await mesh.first.close();
  const ctl = await mesh.controller(50);
  const cli = ['--controller', ctl.url, '--token', TOKEN];
  const stopLoad = steadyLoad(mesh);
  const r = await meshctl(['canary', 'start', 'product', '--version', 'v2', '--steps', '10,50,100', '--interval', '300ms', '--min-requests', '20', '--wait', ...cli]);
  const { failed, sent } = await stopLoad();
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /started: step 1\/3: 10% to v2/);
  assert.match(r.stdout, /advanced: step 3\/3: 100% to v2/);
  assert.match(r.stdout, /promoted/);
  assert.ok(sent > 0);
  assert.equal(failed, 0, `${failed} of ${sent} client requests failed during the rollout`);
  const status = await meshctl(['canary', 'status', 'product', '--json', ...cli]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).state, 'promoted');
});

test('canary start --wait exits 1 on rollback and prints the failed gate', async (t) => {
  const mesh = await startCanaryMesh(t);
  await mesh.first.close();
  const ctl = await mesh.controller(50);
  const cli = ['--controller', ctl.url, '--token', TOKEN];
  mesh.apps.find((a) => a.version === 'v2')!.failEvery = 5;
  const stopLoad = steadyLoad(mesh);
  const r = await meshctl(['canary', 'start', 'product', '--version', 'v2', '--steps', '20,100', '--interval', '300ms', '--wait', ...cli]);
  await stopLoad();
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /rolled-back/);
  assert.match(r.stdout, /reason: gate error-rate failed at 20%: error rate \d+\.\d% > 1\.0%/);
});

test('status, set, pause, resume and abort steer a rollout; --mirror starts with the mirror phase', async (t) => {
  const mesh = await startCanaryMesh(t);
  const cli = ['--controller', mesh.first.url, '--token', TOKEN];
  const mirror = await meshctl(['canary', 'start', 'product', '--version', 'v2', '--mirror', '100%', '--interval', '1m', ...cli]);
  assert.equal(mirror.code, 0, mirror.stderr);
  assert.match(mirror.stdout, /product {2}v1 → v2 {2}progressing {2}mirroring 100% {2}weight 0%/);
  assert.equal((await meshctl(['canary', 'abort', 'product', ...cli])).code, 0);
  const start = await meshctl(['canary', 'start', 'product', '--version', 'v2', '--interval', '1m', '--header', 'x-canary=1', ...cli]);
  assert.equal(start.code, 0, start.stderr);
  assert.match(start.stdout, /product {2}v1 → v2 {2}progressing {2}step 1\/4 {2}weight 5%/);
  assert.match(start.stdout, /header x-canary: 1 → v2/);
  const again = await meshctl(['canary', 'start', 'product', '--version', 'v2', ...cli]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /409 a rollout of product is already progressing/);
  const set = await meshctl(['canary', 'set', 'product', '--weight', '30', ...cli]);
  assert.match(set.stdout, /progressing \(manual\) {2}step 1\/4 {2}weight 30%/);
  assert.deepEqual(await mesh.pushedWeights(mesh.first.url), { v1: 70, v2: 30 });
  assert.match((await meshctl(['canary', 'pause', 'product', ...cli])).stdout, /paused/);
  assert.match((await meshctl(['canary', 'resume', 'product', ...cli])).stdout, /progressing {2}step 3\/4 {2}weight 50%/);
  const list = await meshctl(['canary', 'status', ...cli]);
  assert.match(list.stdout, /product {2}v1 → v2/);
  const abort = await meshctl(['canary', 'abort', 'product', ...cli]);
  assert.match(abort.stdout, /aborted/);
  assert.deepEqual(await mesh.pushedWeights(mesh.first.url), { v1: 100 });
  const unknown = await meshctl(['canary', 'status', 'nope', ...cli]);
  assert.match(unknown.stderr, /404 no rollout for service "nope"/);
});
