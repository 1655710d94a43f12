// `meshctl top --once --json` and `meshctl stat` as a user runs them (child
// processes) against a real controller (static discovery) scraping two real
// proxies, with load through them and an upstream that fails a known fraction.
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { eventually } from '../../harness/eventually.ts';
import { closedPort } from '../../harness/upstream-servers.ts';
import { api } from '../../harness/controller-harness.ts';
import { writeUpState } from '../../../src/cli/up/mesh-state.ts';
import { meshctl, startSmallMesh } from './small-mesh.ts';

test('top --once --json reports the live rps and the exact error rate; stat and the text frame agree', async (t) => {
  const { ctl, batch, cli } = await startSmallMesh(t);
  const data = await eventually(
    async () => {
      for (let i = 0; i < 5; i++) await batch();
      // Wait for a scrape that saw this load, then ask as the user would.
      await eventually(async () => {
        const m = await api(ctl.url, 'GET', '/v1/metrics');
        assert.ok(m.body.services.some((s: { service: string; rps: number }) => s.service === 'product' && s.rps > 0));
      });
      const r = await meshctl(['top', '--once', '--json', ...cli]);
      assert.equal(r.code, 0, r.stderr);
      const d = JSON.parse(r.stdout);
      const svc = d.metrics.services.find((s: { service: string }) => s.service === 'product');
      const edge = d.metrics.edges.find((e: { source: string; destination: string }) => e.source === 'web' && e.destination === 'product');
      assert.ok(svc && svc.rps > 0, JSON.stringify(d.metrics));
      // Every request of the window came in whole batches of four, one failing: exactly 75 %.
      assert.equal(svc.successRate, 0.75, JSON.stringify(svc));
      assert.equal(edge?.successRate, 0.75, JSON.stringify(edge));
      // The caller's sidecar reached product over mTLS (the harness runs the controller's CA).
      assert.equal(edge?.mtls, 'mtls', JSON.stringify(edge));
      return d;
    },
    { timeoutMs: 40_000, intervalMs: 200 },
  );
  assert.equal(data.health.project, 'test');
  assert.equal(data.proxies.length, 2);
  assert.ok(data.proxies.every((p: { inSync: boolean }) => p.inSync));
  // Per-route figures, added to the aggregate for the routes view.
  const routes = data.metrics.routes.filter((r: { service: string }) => r.service === 'product');
  assert.ok(routes.length >= 1 && routes.some((r: { rps: number }) => r.rps > 0), JSON.stringify(data.metrics.routes));

  // The same numbers as text: one frame of the services view, and stat's table.
  // Load first: on a busy machine the figures' 5 s window may have lapsed since the JSON round.
  const frame = await eventually(
    async () => {
      await batch();
      const f = await meshctl(['top', '--once', ...cli], { COLUMNS: '100' });
      assert.equal(f.code, 0, f.stderr);
      assert.match(f.stdout, /^\s+product\s+\d+\.\d\s+\d+\.\d\d%/m);
      return f;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  assert.match(frame.stdout, /SERVICE ▲\s+RPS\s+SUCCESS/);
  assert.match(frame.stdout, /project test/);
  assert.ok(!frame.stdout.includes('\x1b['), 'NO_COLOR output has no escape codes');
  const stat = await meshctl(['stat', 'product', '--json', ...cli]);
  assert.equal(stat.code, 0, stat.stderr);
  const s = JSON.parse(stat.stdout);
  assert.deepEqual(s.services.map((x: { service: string }) => x.service), ['product']);
  assert.ok(s.edges.every((e: { source: string; destination: string }) => e.source === 'product' || e.destination === 'product'));
  await eventually(
    async () => {
      await batch();
      const table = await meshctl(['stat', ...cli]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^SERVICE\s+RPS\s+SUCCESS\s+P50\s+P95\s+P99\s+RETRY\/S\s+CONNS$/m);
      assert.match(table.stdout, /^web → product\s/m);
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  // A canary split set through the controller's overrides shows as version rows with their weights.
  const put = await api(ctl.url, 'PUT', '/v1/overrides', { service: 'product', weights: { v1: 90, v2: 10 } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const canary = await meshctl(['top', '--once', ...cli], { COLUMNS: '120' });
  assert.equal(canary.code, 0, canary.stderr);
  assert.match(canary.stdout, /SERVICE ▲.*WEIGHT/);
  assert.match(canary.stdout, /^\s+└ v1\s+90%$/m);
  assert.match(canary.stdout, /^\s+└ v2\s+10%$/m);
  // The leaves the CA signed ride along for the proxies view's certificate expiry.
  assert.deepEqual(data.certs.services.map((c: { service: string }) => c.service).sort(), ['product', 'web']);
  const proxies = await meshctl(['top', '--once', '--view', 'proxies', ...cli], { COLUMNS: '140' });
  assert.equal(proxies.code, 0, proxies.stderr);
  assert.match(proxies.stdout, /CERT EXPIRY/);
  assert.match(proxies.stdout, /^\s+product-mesh\s.*\bin (\d|1\d|2[0-3])h\d\dm\b/m);
  // The edges view lists edges with traffic in the window: send some first (a slow machine may have let it lapse).
  await eventually(
    async () => {
      await batch();
      const edges = await meshctl(['top', '--once', '--view', 'edges', ...cli], { COLUMNS: '140' });
      assert.match(edges.stdout, /^\s+web → product\s.*\byes$/m);
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  const unknown = await meshctl(['stat', 'nosuch', ...cli]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no service named "nosuch"/);
});

test('top --once exits 3 with the reason and the fix when the controller is unreachable', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  for (const args of [['top', '--once', '--json'], ['top', '--once'], ['stat']]) {
    const r = await meshctl([...args, '--controller', url, '--token', 'x']);
    assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`cannot reach the controller at ${url} \\(ECONNREFUSED\\)`));
    assert.match(r.stderr, /code: MESH_ERR_CONTROLLER_UNREACHABLE/);
  }
});

test('in a folder where meshctl up ran, stat and certs find its controller and token with no flags', async (t) => {
  const { ctl, token, batch } = await startSmallMesh(t);
  await batch();
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-project-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // What `meshctl up` leaves in .mesh/: the controller's published port and the bootstrap token.
  const port = Number(new URL(ctl.url).port);
  writeUpState(dir, { project: 'p', files: [], output: join(dir, '.mesh/compose.yaml'), controllerPort: port, image: 'mesh:test', compose: ['docker-compose'] });
  writeFileSync(join(dir, '.mesh/bootstrap-token'), token, { mode: 0o600 });
  const env = { MESH_CONTROLLER_URL: '', MESH_BOOTSTRAP_TOKEN: '' };
  for (const args of [['stat', '--json'], ['certs', '--json']]) {
    const r = await meshctl(args, env, dir);
    assert.equal(r.code, 0, `meshctl ${args.join(' ')}: ${r.stderr}`);
    JSON.parse(r.stdout);
  }
});
