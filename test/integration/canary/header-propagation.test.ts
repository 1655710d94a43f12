// The canary test header reaches a downstream service's canary through an app
// that forwards only trace context: client → web's sidecar (inbound) → web app →
// web's sidecar (outbound) → product's sidecar, whose header route sends
// x-canary: 1 to v2. Real proxies and sockets; W3C and B3 trace ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { request } from '../../harness/http-client.ts';
import { cluster, httpListener, startTestProxy } from '../../harness/proxy-builder.ts';
import { httpUpstream } from '../../harness/upstream-servers.ts';

const TRACE = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled'];

test('an inbound test header is added to the outbound calls of the same trace, and only those', { timeout: 30_000 }, async (t) => {
  const version = (v: string) => httpUpstream((req, res) => res.writeHead(200, { 'x-version': v, 'x-canary-seen': String(req.headers['x-canary'] ?? '') }).end(v));
  const v1 = await version('v1');
  const v2 = await version('v2');
  t.after(() => v1.close());
  t.after(() => v2.close());
  const propagation = { headers: ['x-canary'] };
  const product = await startTestProxy({
    version: 1,
    node: { service: 'product' },
    listeners: [
      httpListener(
        'in',
        [
          { name: 'canary-header', match: { headers: [{ name: 'x-canary', exact: '1' }] }, destinations: [{ cluster: 'v2' }] },
          { name: 'default', destinations: [{ cluster: 'v1' }] },
        ],
        { direction: 'inbound' },
      ),
    ],
    clusters: [cluster('v1', [v1.port]), cluster('v2', [v2.port])],
    headerPropagation: propagation,
  });
  t.after(() => product.close());

  // web's app: calls product through its own sidecar's outbound listener, forwarding what `?forward=` names.
  let webOut = 0;
  const agent = new http.Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  const webApp = await httpUpstream((req, res) => {
    const forward = new URL(req.url!, 'http://x').searchParams.get('forward') ?? 'trace';
    const headers: Record<string, string> = { host: 'product' };
    if (forward === 'trace') for (const h of TRACE) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
    http
      .get({ host: '127.0.0.1', port: webOut, path: '/', headers, agent }, (r) => {
        r.resume();
        r.on('end', () => res.writeHead(200, { 'x-version': String(r.headers['x-version']), 'x-canary-seen': String(r.headers['x-canary-seen']) }).end());
      })
      .on('error', (err) => res.writeHead(502).end(err.message));
  });
  t.after(() => webApp.close());
  const web = await startTestProxy({
    version: 1,
    node: { service: 'web' },
    listeners: [
      httpListener('in', [{ name: 'in', destinations: [{ cluster: 'web-app' }] }], { direction: 'inbound' }),
      httpListener('out', [{ name: 'to-product', match: { hosts: ['product'] }, destinations: [{ cluster: 'product' }] }]),
    ],
    clusters: [cluster('web-app', [webApp.port]), cluster('product', [product.port()])],
    headerPropagation: propagation,
  });
  t.after(() => web.close());
  webOut = web.port('out');

  const call = async (path: string, headers: Record<string, string> = {}) => {
    const r = await request(web.port('in'), { path, headers });
    assert.equal(r.status, 200, r.body);
    return { version: r.headers['x-version'], seen: r.headers['x-canary-seen'] };
  };
  // No trace context from the client: web's sidecar starts the trace, the app forwards it.
  assert.deepEqual(await call('/', { 'x-canary': '1' }), { version: 'v2', seen: '1' });
  assert.deepEqual(await call('/'), { version: 'v1', seen: '' });
  // The client's own W3C trace, and a B3 one.
  assert.equal((await call('/', { 'x-canary': '1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })).version, 'v2');
  assert.equal((await call('/', { 'x-canary': '1', 'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7', 'x-b3-spanid': 'e457b5a2e4d86bd1', 'x-b3-sampled': '1' })).version, 'v2');
  // An app that drops trace context drops the header at its hop too (documented requirement).
  assert.equal((await call('/?forward=none', { 'x-canary': '1' })).version, 'v1');

  // Interleaved traces never lend each other their headers.
  const results = await Promise.all(Array.from({ length: 60 }, (_, i) => call('/', i % 2 ? { 'x-canary': '1' } : {}).then((r) => [i % 2 ? 'v2' : 'v1', r.version])));
  for (const [want, got] of results) assert.equal(got, want);

  const metrics = await (await fetch(`http://127.0.0.1:${web.adminPort()}/metrics`)).text();
  assert.match(metrics, /mesh_propagation_added_total\{listener="out"\} 33/);
});
