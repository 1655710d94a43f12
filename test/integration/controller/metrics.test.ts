// /v1/metrics: the controller scrapes each connected proxy's admin /metrics
// and serves per-service and per-edge figures. Real proxies, real traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../harness/eventually.ts';
import { api } from '../../harness/controller-harness.ts';
import { startWebProductMesh } from '../../harness/web-product-mesh.ts';

test('metrics are aggregated per service and per edge from every proxy', async (t) => {
  const { ctl, get } = await startWebProductMesh(t, { failStatus: 500 });
  await eventually(async () => assert.equal(await get('/'), 200));

  const m = await eventually(async () => {
    for (let i = 0; i < 9; i++) await get('/');
    await get('/fail');
    const r = await api(ctl.url, 'GET', '/v1/metrics');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.scrapeErrors, []);
    const svc = r.body.services.find((s: any) => s.service === 'product');
    const edge = r.body.edges.find((e: any) => e.source === 'web' && e.destination === 'product');
    assert.ok(svc && svc.rps > 0 && edge && edge.rps > 0, JSON.stringify(r.body));
    assert.ok(svc.successRate > 0.5 && svc.successRate < 1, JSON.stringify(svc));
    return { svc, edge };
  }, { timeoutMs: 15_000, intervalMs: 100 });
  assert.ok(m.svc.p50Ms !== null && m.svc.p99Ms >= m.svc.p50Ms, JSON.stringify(m.svc));
  assert.ok(m.edge.successRate < 1);
});
