// Span export over OTLP/HTTP across two real sidecars (controller with its CA,
// so they talk mTLS), received by a plain node:http OTLP receiver. A request
// enters web's sidecar (outbound), reaches product's (inbound), product's app
// forwards the trace context on a call to web, through product's sidecar
// (outbound) and web's (inbound): four spans, each the child of the one before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { eventually } from '../../harness/eventually.ts';
import { api, inProcessController, loopbackWorkloads, tempDir, TOKEN, writeWorkloads } from '../../harness/controller-harness.ts';
import { closedPort } from '../../harness/upstream-servers.ts';
import { startProxy } from '../../../src/proxy/proxy.ts';
import { startConfigClient } from '../../../src/proxy/config-client.ts';
import { identityFromController } from '../../../src/proxy/identity/controller-signer.ts';
import { metricValue } from '../resilience/metric-value.ts';
import type { MeshConfigInput } from '../../../src/shared/mesh-config.ts';

type T = { after(fn: () => Promise<void> | void): void };
type Attr = { key: string; value: { stringValue?: string; intValue?: string } };
type Span = { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; startTimeUnixNano: string; endTimeUnixNano: string; attributes: Attr[]; status: { code: number } };

/** A minimal OTLP/HTTP JSON receiver: every span it got, with its resource's service.name. */
async function otlpReceiver(t: T) {
  const spans: (Span & { service: string })[] = [];
  const paths: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const doc = JSON.parse(body) as { resourceSpans: { resource: { attributes: Attr[] }; scopeSpans: { spans: Span[] }[] }[] };
      for (const rs of doc.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, service });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, paths };
}

function listen(server: ReturnType<typeof createServer>, host: string): Promise<number> {
  return new Promise((r) => server.listen(0, host, () => r((server.address() as AddressInfo).port)));
}

function get(host: string, port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** web and product apps on loopback, each behind a real sidecar the controller configures; product's app calls web. */
async function startTracedMesh(t: T, telemetry: MeshConfigInput['telemetry']) {
  const dir = tempDir(t);
  const seen: Record<string, IncomingHttpHeaders> = {};
  let webPort = 0;
  const webApp = createServer((req, res) => {
    seen.web = req.headers;
    res.end('leaf');
  });
  const productApp = createServer((req, res) => {
    seen.product = req.headers;
    // The app forwards the trace context it received, as instrumented apps do, on its call to web (through its sidecar).
    get('127.0.20.3', webPort, '/leaf', { host: 'web', traceparent: String(req.headers.traceparent) }).then(
      (r) => res.end(`product+${r.body}`),
      (err) => {
        res.statusCode = 502;
        res.end(String(err));
      },
    );
  });
  webPort = await listen(webApp, '127.0.10.1');
  const productPort = await listen(productApp, '127.0.20.1');
  t.after(() => new Promise<void>((r) => webApp.close(() => r())));
  t.after(() => new Promise<void>((r) => productApp.close(() => r())));
  writeWorkloads(join(dir, 'workloads.json'), loopbackWorkloads({ product: productPort, web: webPort }));
  const ctl = await inProcessController(t, { dir, config: { telemetry, services: { product: { ports: [productPort] }, web: { ports: [webPort] } } } });
  const admins: Record<string, number> = {};
  for (const service of ['web', 'product']) {
    const identity = await identityFromController({ url: ctl.url, bearer: TOKEN, service, timeoutMs: 10_000 });
    t.after(() => identity.close());
    const handle = await startProxy({ admin: { host: '127.0.0.1', port: 0 }, accessLog: { write: () => true } as unknown as NodeJS.WritableStream, identity });
    t.after(() => handle.close());
    admins[service] = handle.adminAddress()!.port;
    const c = startConfigClient({ url: ctl.url, token: TOKEN, service, proxyId: `${service}-mesh`, handle });
    t.after(() => c.close());
  }
  await eventually(async () => {
    const r = await api(ctl.url, 'GET', '/v1/proxies');
    assert.equal(r.body.proxies.filter((p: { inSync: boolean }) => p.inSync).length, 2, JSON.stringify(r.body));
  });
  /** What web's app does: call product through web's sidecar. */
  const call = (headers: Record<string, string> = {}) => get('127.0.10.3', productPort, '/hello', { host: 'product', ...headers });
  return { call, seen, admins };
}

const attr = (s: Span, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined);
};

test('each sidecar hop is a span, the child of the hop before it, exported over OTLP/HTTP JSON', async (t) => {
  const receiver = await otlpReceiver(t);
  const mesh = await startTracedMesh(t, { tracing: { otlpEndpoint: receiver.url } });
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const clientSpan = '00f067aa0ba902b7';
  const r = await mesh.call({ traceparent: `00-${traceId}-${clientSpan}-01` });
  assert.deepEqual(r, { status: 200, body: 'product+leaf' });

  const spans = await eventually(() => {
    const mine = receiver.spans.filter((s) => s.traceId === traceId);
    assert.equal(mine.length, 4, JSON.stringify(receiver.spans));
    return mine;
  });
  assert.ok(receiver.paths.every((p) => p === 'POST /v1/traces application/json'), receiver.paths.join());
  const one = (service: string, kind: number) => {
    const s = spans.filter((x) => x.service === service && x.kind === kind);
    assert.equal(s.length, 1, `${service} kind ${kind}: ${JSON.stringify(spans)}`);
    return s[0]!;
  };
  const SERVER = 2;
  const CLIENT = 3;
  const webOut = one('web', CLIENT);
  const productIn = one('product', SERVER);
  const productOut = one('product', CLIENT);
  const webIn = one('web', SERVER);
  // The chain: caller → web's outbound → product's inbound → (app) → product's outbound → web's inbound.
  assert.equal(webOut.parentSpanId, clientSpan);
  assert.equal(productIn.parentSpanId, webOut.spanId);
  assert.equal(productOut.parentSpanId, productIn.spanId);
  assert.equal(webIn.parentSpanId, productOut.spanId);
  assert.equal(new Set(spans.map((s) => s.spanId)).size, 4);
  // Each app saw the traceparent of the span of the sidecar hop that delivered it.
  assert.equal(mesh.seen.product!.traceparent, `00-${traceId}-${productIn.spanId}-01`);
  assert.equal(mesh.seen.web!.traceparent, `00-${traceId}-${webIn.spanId}-01`);

  for (const s of spans) {
    assert.equal(attr(s, 'http.request.method'), 'GET');
    assert.equal(attr(s, 'http.response.status_code'), 200);
    assert.equal(s.status.code, 0);
    assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano));
    assert.equal(s.name, `GET ${attr(s, 'http.route')}`);
  }
  assert.equal(attr(webOut, 'url.path'), '/hello');
  assert.equal(attr(webIn, 'url.path'), '/leaf');
  assert.deepEqual([attr(webOut, 'mesh.source_service'), attr(webOut, 'mesh.destination_service'), attr(webOut, 'peer.service')], ['web', 'product', 'product']);
  assert.deepEqual([attr(productIn, 'mesh.source_service'), attr(productIn, 'mesh.destination_service')], ['web', 'product']);
  assert.deepEqual([attr(webIn, 'mesh.source_service'), attr(webIn, 'mesh.destination_service')], ['product', 'web']);
  assert.match(String(attr(productIn, 'http.route')), /^in:product:\d+/);
  assert.match(String(attr(webOut, 'http.route')), /^out:product:\d+/);
  // A server span's parent (the caller's client span) ended after it began.
  assert.ok(BigInt(productIn.startTimeUnixNano) >= BigInt(webOut.startTimeUnixNano) - 1_000_000n);

  // A request with no trace context starts one at the first sidecar: a root span, then the same chain.
  await mesh.call();
  await eventually(() => {
    const roots = receiver.spans.filter((s) => s.traceId !== traceId && s.parentSpanId === undefined);
    assert.equal(roots.length, 1);
    assert.equal(roots[0]!.service, 'web');
    assert.equal(receiver.spans.filter((s) => s.traceId === roots[0]!.traceId).length, 4);
  });
  const m = await (await fetch(`http://127.0.0.1:${mesh.admins.web}/metrics`)).text();
  assert.equal(metricValue(m, 'mesh_spans_exported_total'), 4, 'web exported its two spans of each trace');

  // B3 only (a Zipkin-instrumented caller): same trace, and the B3 span id the app sees is the sidecar hop's.
  const b3Trace = '463ac35c9f6413ad48485a3953bb6124';
  await mesh.call({ 'x-b3-traceid': b3Trace, 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-sampled': '1' });
  const b3Spans = await eventually(() => {
    const s = receiver.spans.filter((x) => x.traceId === b3Trace);
    assert.equal(s.length, 4);
    return s;
  });
  const b3ProductIn = b3Spans.find((s) => s.service === 'product' && s.kind === SERVER)!;
  assert.equal(b3Spans.find((s) => s.service === 'web' && s.kind === CLIENT)!.parentSpanId, 'a2fb4a1d1a96d312');
  assert.equal(mesh.seen.product!['x-b3-spanid'], b3ProductIn.spanId);
  assert.equal(mesh.seen.product!.traceparent, `00-${b3Trace}-${b3ProductIn.spanId}-01`);
});

test('an OTLP endpoint that fails costs spans, counted in /metrics, never requests', async (t) => {
  const mesh = await startTracedMesh(t, { tracing: { otlpEndpoint: `http://127.0.0.1:${await closedPort()}` } });
  for (let i = 0; i < 3; i++) assert.equal((await mesh.call()).status, 200);
  await eventually(async () => {
    const m = await (await fetch(`http://127.0.0.1:${mesh.admins.web}/metrics`)).text();
    assert.equal(metricValue(m, 'mesh_spans_dropped_total', { reason: 'export_failed' }), 6, m.split('\n').filter((l) => l.includes('span')).join('\n'));
    assert.ok(metricValue(m, 'mesh_span_exports_total', { result: 'failed' }) >= 1);
    assert.equal(metricValue(m, 'mesh_spans_exported_total'), 0);
  });
});
