// Admin endpoints (/ready, /metrics, /config, /stats), JSON access-log lines,
// trace-context propagation, and drain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { httpUpstream, echoHandler } from '../../harness/upstream-servers.ts';
import { startTestProxy, snapshot, httpListener, cluster } from '../../harness/proxy-builder.ts';
import { request } from '../../harness/http-client.ts';
import { eventually } from '../../harness/eventually.ts';
import { HTTP_STATS, TCP_STATS, LISTENER_STATS } from '../../../src/proxy/telemetry/proxy-stats.ts';

test('admin: /ready is 503 until a snapshot applies; /config, /stats and /metrics describe the live proxy', async (t) => {
  const up = await httpUpstream(echoHandler('payments'));
  t.after(() => up.close());
  const p = await startTestProxy(undefined);
  t.after(() => p.close());
  const admin = `http://127.0.0.1:${p.adminPort()}`;
  assert.equal((await fetch(`${admin}/ready`)).status, 503);
  const snap = snapshot([httpListener('out', [{ name: 'pay', match: { hosts: ['payments'] }, destinations: [{ cluster: 'payments' }] }])], [cluster('payments', [up.port])], { version: 4 });
  assert.ok((await p.proxy.apply(snap)).ok);
  assert.equal((await fetch(`${admin}/ready`)).status, 200);

  const config = (await (await fetch(`${admin}/config`)).json()) as { version: number; hash: string; clusters: { name: string }[] };
  assert.equal(config.version, 4);
  assert.equal(config.hash, p.proxy.current()!.hash);
  assert.equal(config.clusters[0].name, 'payments');

  for (let i = 0; i < 3; i++) await request(p.port('out'), { headers: { host: 'payments' }, method: 'POST', body: 'abc' });
  await request(p.port('out'), { headers: { host: 'nope' } });

  const stats = (await (await fetch(`${admin}/stats`)).json()) as { ready: boolean; version: number; totals: { requests: number }; clusters: { endpoints: { requests: number }[] }[]; listeners: { name: string }[] };
  assert.equal(stats.ready, true);
  assert.equal(stats.version, 4);
  assert.equal(stats.totals.requests, 4);
  assert.equal(stats.clusters[0].endpoints[0].requests, 3);
  assert.equal(stats.listeners[0].name, 'out');

  const res = await fetch(`${admin}/metrics`);
  assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  // Every declared stat is exposed under its name.
  for (const name of [...Object.keys(HTTP_STATS), ...Object.keys(TCP_STATS), ...Object.keys(LISTENER_STATS)]) assert.match(text, new RegExp(`^# TYPE mesh_${name} `, 'm'));
  const labels = 'direction="outbound",listener="out",source_service="orders",destination_service="payments",destination_version="",route="pay",response_class="2xx",status_code="200",tls="false"';
  assert.ok(text.includes(`mesh_requests_total{${labels}} 3`), text);
  assert.ok(text.includes(`mesh_request_duration_seconds_bucket{${labels},le="+Inf"} 3`));
  assert.ok(text.includes(`mesh_request_duration_seconds_count{${labels}} 3`));
  assert.match(text, new RegExp(`mesh_request_duration_seconds_sum\\{${labels.replace(/[{}]/g, '\\$&')}\\} [0-9.e-]+`));
  assert.ok(text.includes('mesh_request_bytes_total{direction="outbound",listener="out",source_service="orders",destination_service="payments",route="pay"} 9'));
  assert.match(text, /mesh_requests_total\{[^}]*status_code="404"[^}]*\} 1/);
  assert.match(text, /mesh_proxy_errors_total\{direction="outbound",listener="out",reason="no-route"\} 1/);
  assert.match(text, /mesh_active_connections\{direction="outbound",listener="out"\} \d+/);
});

test('one JSON access-log line per request with the fields a reader needs', async (t) => {
  const up = await httpUpstream(echoHandler('payments'));
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'pay', destinations: [{ cluster: 'payments' }], service: 'payments-svc' }])], [cluster('payments', [up.port])]));
  t.after(() => p.close());
  const r = await request(p.port(), { method: 'PUT', path: '/charge?id=7', headers: { host: 'payments:8080' }, body: 'hello' });
  await eventually(() => assert.equal(p.logs().length, 1));
  const line = p.logs()[0]!;
  assert.ok(!Number.isNaN(Date.parse(String(line.time))));
  assert.equal(line.kind, 'http');
  assert.equal(line.direction, 'outbound');
  assert.equal(line.source, 'orders');
  assert.equal(line.destination, 'payments-svc');
  assert.equal(line.route, 'pay');
  assert.equal(line.method, 'PUT');
  assert.equal(line.path, '/charge');
  assert.equal(line.authority, 'payments');
  assert.equal(line.status, 200);
  assert.equal(line.bytes_in, 5);
  assert.equal(line.bytes_out, Buffer.byteLength(r.body));
  assert.equal(line.upstream, `127.0.0.1:${up.port}`);
  assert.equal(line.cluster, 'payments');
  assert.equal(typeof line.duration_ms, 'number');
  assert.equal(line.error, undefined);
  assert.match(String(line.trace_id), /^[0-9a-f]{32}$/);
});

test('trace context: traceparent/tracestate and B3 pass unchanged; a request without one gets a new traceparent', async (t) => {
  const up = await httpUpstream(echoHandler('a'));
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'a', destinations: [{ cluster: 'a' }] }])], [cluster('a', [up.port])]));
  t.after(() => p.close());
  const seen = async (headers: Record<string, string>): Promise<http.IncomingHttpHeaders> => JSON.parse((await request(p.port(), { headers })).body).headers;

  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const a = await seen({ traceparent: tp, tracestate: 'congo=t61rcWkgMzE' });
  assert.equal(a.traceparent, tp);
  assert.equal(a.tracestate, 'congo=t61rcWkgMzE');

  const b = await seen({ 'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7', 'x-b3-spanid': 'e457b5a2e4d86bd1', 'x-b3-sampled': '1' });
  assert.equal(b['x-b3-traceid'], '80f198ee56343ba864fe8b2a57d3eff7');
  assert.equal(b['x-b3-spanid'], 'e457b5a2e4d86bd1');
  assert.equal(b.traceparent, '00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01');

  const c = await seen({});
  const d = await seen({});
  assert.match(String(c.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.notEqual(c.traceparent, d.traceparent);
});

test('drain: idle keep-alive connections close at once, an in-flight response finishes first', { timeout: 20_000 }, async (t) => {
  let release: (() => void) | undefined;
  const up = await httpUpstream((req, res) => {
    if (req.url === '/slow') release = () => res.end('slow done');
    else res.end('ok');
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'a', destinations: [{ cluster: 'a' }] }])], [cluster('a', [up.port])]));
  t.after(() => p.close());
  const agent = new http.Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  await request(p.port(), { agent }); // leaves an idle keep-alive connection
  const slow = request(p.port(), { path: '/slow' });
  await eventually(() => assert.ok(release));
  const drained = p.proxy.drain(30_000);
  release!();
  assert.equal((await slow).body, 'slow done');
  await drained; // would take 30 s if the idle connection held the drain open
});
