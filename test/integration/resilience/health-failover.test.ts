// Active health checks remove and restore an endpoint (and survive a snapshot
// push); failover sends traffic to a fallback cluster when the destination has
// no healthy endpoint, and says so in metrics and the access log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from '../../harness/http-client.ts';
import { eventually } from '../../harness/eventually.ts';
import net from 'node:net';
import { closedPort, httpUpstream, tcpUpstream } from '../../harness/upstream-servers.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { metric } from './metric-value.ts';

const route = [{ name: 'pay', destinations: [{ cluster: 'payments' }] }];

test('HTTP health checks remove an unhealthy endpoint and restore it, across snapshots', async (t) => {
  let sick = false;
  const a = await httpUpstream((req, res) => {
    if (req.url === '/healthz') res.writeHead(sick ? 500 : 200).end();
    else res.writeHead(200).end('a');
  });
  const b = await httpUpstream((_req, res) => res.writeHead(200).end('b'));
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const hc = { type: 'http' as const, path: '/healthz', intervalMs: 30, timeoutMs: 500, unhealthyThreshold: 2, healthyThreshold: 2 };
  const snap = (version: number) => snapshot([httpListener('out', route)], [cluster('payments', [a.port, b.port], { lb: 'round_robin', healthCheck: hc })], { version });
  const p = await startTestProxy(snap(1));
  t.after(() => p.close());
  const labels = { cluster: 'payments', endpoint: `127.0.0.1:${a.port}` };
  await eventually(async () => assert.ok((await metric(p.adminPort(), 'mesh_health_checks_total', { ...labels, result: 'success' })) >= 1));
  const get = async () => (await request(p.port(), { headers: { host: 'payments' } })).body;
  assert.deepEqual(new Set(await Promise.all(Array.from({ length: 6 }, get))), new Set(['a', 'b']));

  sick = true;
  await eventually(async () => assert.equal(await metric(p.adminPort(), 'mesh_endpoint_healthy', labels), 0));
  const during = [];
  for (let i = 0; i < 8; i++) during.push(await get());
  assert.deepEqual(new Set(during), new Set(['b']));
  // A new snapshot keeps the checker and its verdict: no traffic to the sick endpoint in between.
  const failuresBefore = await metric(p.adminPort(), 'mesh_health_checks_total', { ...labels, result: 'failure' });
  assert.equal((await p.proxy.apply(snap(2))).ok, true);
  for (let i = 0; i < 4; i++) assert.equal(await get(), 'b');
  assert.ok((await metric(p.adminPort(), 'mesh_health_checks_total', { ...labels, result: 'failure' })) >= failuresBefore);

  sick = false;
  await eventually(async () => assert.equal(await metric(p.adminPort(), 'mesh_endpoint_healthy', labels), 1));
  await eventually(async () => assert.equal(await get(), 'a'));
});

test('TCP health checks mark an endpoint with nothing listening unhealthy', async (t) => {
  const up = await httpUpstream((_req, res) => res.writeHead(200).end('up'));
  const dead = await closedPort();
  t.after(() => up.close());
  const hc = { type: 'tcp' as const, intervalMs: 30, unhealthyThreshold: 1 };
  const p = await startTestProxy(snapshot([httpListener('out', route)], [cluster('payments', [dead, up.port], { lb: 'round_robin', healthCheck: hc })]));
  t.after(() => p.close());
  await eventually(async () => assert.equal(await metric(p.adminPort(), 'mesh_endpoint_healthy', { endpoint: `127.0.0.1:${dead}` }), 0));
  for (let i = 0; i < 6; i++) assert.equal((await request(p.port(), { headers: { host: 'payments' } })).status, 200);
  assert.ok((await metric(p.adminPort(), 'mesh_health_checks_total', { endpoint: `127.0.0.1:${up.port}`, result: 'success' })) >= 1);
});

test('failover: no healthy endpoint in the destination routes to the fallback, in metrics and the access log', async (t) => {
  const backup = await httpUpstream((_req, res) => res.writeHead(200).end('backup'));
  const primary = await httpUpstream((_req, res) => res.writeHead(200).end('primary'));
  t.after(async () => {
    await backup.close();
    await primary.close();
  });
  const routes = [
    { name: 'pay', match: { path: { prefix: '/pay' } }, destinations: [{ cluster: 'payments-v2' }], failover: { destinations: [{ cluster: 'payments-v1' }] } },
    { name: 'nofo', destinations: [{ cluster: 'payments-v2' }] },
  ];
  const clusters = (v2healthy: boolean) => [
    { name: 'payments-v2', service: 'payments', endpoints: [{ address: '127.0.0.1', port: primary.port, healthy: v2healthy }] },
    cluster('payments-v1', [backup.port], { service: 'payments' }),
  ];
  const p = await startTestProxy(snapshot([httpListener('out', routes)], clusters(true)));
  t.after(() => p.close());
  assert.equal((await request(p.port(), { path: '/pay', headers: { host: 'payments' } })).body, 'primary');

  assert.equal((await p.proxy.apply(snapshot([httpListener('out', routes)], clusters(false), { version: 2 }))).ok, true);
  const r = await request(p.port(), { path: '/pay', headers: { host: 'payments' } });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'backup');
  assert.equal(await metric(p.adminPort(), 'mesh_failovers_total', { route: 'pay', from: 'payments-v2', to: 'payments-v1' }), 1);
  await eventually(() => assert.ok(p.logs().some((l) => l.failover === 'payments-v2>payments-v1' && l.cluster === 'payments-v1')));
  // Without a failover the same state is a 503 that says why.
  const none = await request(p.port(), { path: '/other', headers: { host: 'payments' } });
  assert.equal(none.status, 503);
  assert.equal(none.headers['x-mesh-error'], 'no-healthy-endpoint payments-v2');
});

test('a failover cluster that does not exist rejects the snapshot with its path', async (t) => {
  const p = await startTestProxy(undefined);
  t.after(() => p.close());
  const r = await p.proxy.apply(
    snapshot([httpListener('out', [{ name: 'pay', destinations: [{ cluster: 'payments' }], failover: { destinations: [{ cluster: 'nope' }] } }])], [cluster('payments', [1])]),
  );
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.issues.join(), /listeners\[0\]\.routes\[0\].*failover cluster "nope"/);
});

test('opaque TCP listeners skip an endpoint failing its health check', async (t) => {
  const up = await tcpUpstream((s) => s.end('hello'));
  const dead = await closedPort();
  t.after(() => up.close());
  const listener = { name: 'db', address: '127.0.0.1', port: 0, direction: 'outbound' as const, protocol: 'tcp' as const, tcp: { destinations: [{ cluster: 'db' }] } };
  const hc = { type: 'tcp' as const, intervalMs: 30, unhealthyThreshold: 1 };
  const p = await startTestProxy(snapshot([listener], [cluster('db', [dead, up.port], { protocol: 'tcp', lb: 'round_robin', healthCheck: hc })]));
  t.after(() => p.close());
  await eventually(async () => assert.equal(await metric(p.adminPort(), 'mesh_endpoint_healthy', { endpoint: `127.0.0.1:${dead}` }), 0));
  for (let i = 0; i < 4; i++) {
    const got = await new Promise<string>((resolve) => {
      let data = '';
      const s = net.connect(p.port(), '127.0.0.1');
      s.on('data', (d: Buffer) => (data += d));
      s.on('error', () => {});
      s.on('close', () => resolve(data));
    });
    assert.equal(got, 'hello');
  }
  assert.equal(await metric(p.adminPort(), 'mesh_tcp_connect_failures_total', { listener: 'db' }), 0);
});
