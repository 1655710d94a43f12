// A step's window starts when the step's weights are in place and ends at the
// check: the controller scrapes the service's proxies at both edges instead of
// reading its last periodic scrape (here one a minute, so the last scrape is
// always stale). Errors the canary made before the step never count in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../../harness/eventually.ts';
import { api } from '../../harness/controller-harness.ts';
import { startCanaryMesh } from './canary-mesh.ts';

test('errors served before a step are outside its window; the check sees the traffic up to it', { timeout: 60_000 }, async (t) => {
  const mesh = await startCanaryMesh(t, { figures: 'proxies', scrapeMs: 60_000 });
  const ctl = mesh.first;
  const v2 = mesh.apps.find((a) => a.version === 'v2')!;
  const status = async () => (await api(ctl.url, 'GET', '/v1/canary/product')).body;
  const started = await api(ctl.url, 'POST', '/v1/canary', {
    service: 'product',
    version: 'v2',
    steps: [0, 50, 100],
    intervalMs: 300,
    gates: { minRequests: 20, maxErrorRate: 0.01 },
    header: { name: 'x-canary', value: '1' },
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  await mesh.inSync(ctl.url);

  // The tester's requests meet a broken canary at weight 0; then it is fixed.
  v2.failEvery = 1;
  assert.equal((await mesh.load(30, { 'x-canary': '1' })).failed, 30);
  v2.failEvery = 0;

  // A manual weight opens a new window; its baseline is scraped once the weights are in place.
  assert.equal((await api(ctl.url, 'PUT', '/v1/canary/product/weight', { weight: 50 })).status, 200);
  await eventually(async () => assert.ok((await status()).baseline.v2?.errors >= 30, 'the baseline holds the errors made before the step'), { timeoutMs: 10_000 });
  await mesh.inSync(ctl.url);
  const l = await mesh.load(200);
  assert.equal(l.failed, 0);

  await sleep(300);
  const s = await eventually(
    async () => {
      ctl.core.canary.tick();
      const s = await status();
      assert.ok(s.lastCheck, 'checked');
      return s;
    },
    { timeoutMs: 10_000 },
  );
  assert.equal(s.state, 'progressing', JSON.stringify(s.lastCheck));
  assert.equal(s.lastCheck.verdict, 'pass', JSON.stringify(s.lastCheck));
  assert.equal(s.lastCheck.errors, 0);
  // The window ends at the check: every canary request sent since the step is in it, none from before.
  assert.equal(s.lastCheck.requests, Math.round(l.share * 200));
});
