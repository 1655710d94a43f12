// The mesh path: client → orders' sidecar (outbound) → h2c → payments' sidecar
// (inbound) → payments app. Trace context, forwarding headers and metrics
// direction labels survive both hops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpUpstream, echoHandler } from '../../harness/upstream-servers.ts';
import { startTestProxy, snapshot, httpListener, cluster } from '../../harness/proxy-builder.ts';
import { request } from '../../harness/http-client.ts';

test('two sidecars in a row, HTTP/2 between them', async (t) => {
  const app = await httpUpstream(echoHandler('payments-app'));
  t.after(() => app.close());
  const inbound = await startTestProxy(
    snapshot([httpListener('in', [{ name: 'local', destinations: [{ cluster: 'local-app' }] }], { direction: 'inbound' })], [cluster('local-app', [app.port])], {
      node: { service: 'payments' },
    }),
  );
  t.after(() => inbound.close());
  const outbound = await startTestProxy(
    snapshot(
      [httpListener('out', [{ name: 'payments', match: { hosts: ['payments'] }, destinations: [{ cluster: 'payments' }] }])],
      [cluster('payments', [inbound.port('in')], { protocol: 'http2' })],
    ),
  );
  t.after(() => outbound.close());

  const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  for (let i = 0; i < 5; i++) {
    const r = await request(outbound.port(), { method: 'POST', path: '/pay', headers: { host: 'payments:8080', traceparent: tp }, body: 'x'.repeat(100) });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body);
    assert.equal(seen.headers.traceparent, tp);
    assert.equal(seen.headers.host, 'payments:8080');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1, 127.0.0.1');
    assert.equal(seen.bodyBytes, 100);
  }
  const outMetrics = await (await fetch(`http://127.0.0.1:${outbound.adminPort()}/metrics`)).text();
  const inMetrics = await (await fetch(`http://127.0.0.1:${inbound.adminPort()}/metrics`)).text();
  assert.match(outMetrics, /mesh_requests_total\{direction="outbound",listener="out",source_service="orders",destination_service="payments",destination_version="",route="payments",response_class="2xx",status_code="200",tls="false"\} 5/);
  assert.match(inMetrics, /mesh_requests_total\{direction="inbound",listener="in",source_service="unknown",destination_service="payments",destination_version="",route="local",response_class="2xx",status_code="200",tls="false"\} 5/);
  // The inbound side saw HTTP/2 from the outbound side.
  const inLog = inbound.logs().filter((l) => l.kind === 'http');
  assert.equal(inLog.length, 5);
  assert.ok(inLog.every((l) => l.protocol === 'HTTP/2' && l.trace_id === '0af7651916cd43dd8448eb211c80319c'));
});
