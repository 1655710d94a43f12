// The proxy's own HTTP/1.1 server side (listeners/h1-server-connection.ts)
// over real sockets: pipelining, HTTP/1.0 clients, HEAD, a client that
// half-closes, a body the proxy answers before reading, transfer codings it
// cannot pass on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpUpstream } from '../../harness/upstream-servers.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { raw, recordingMesh, statusOf } from '../hostile/hostile-harness.ts';

const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));

test('pipelined requests in one write are answered in order, each forwarded once', async (t) => {
  const { port, seen } = await recordingMesh(t);
  const r = await raw(port, 'GET /1 HTTP/1.1\r\nHost: app\r\n\r\nGET /2 HTTP/1.1\r\nHost: app\r\n\r\nGET /3 HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n');
  assert.deepEqual(statuses(r.text), [200, 200, 200]);
  assert.equal(r.closed, true, 'closed after the request that said Connection: close');
  assert.deepEqual(
    seen.map((s) => s.url),
    ['/1', '/2', '/3'],
  );
  assert.match(r.text, /connection: close\r\n/i, 'the last response says it closes');
});

test('an HTTP/1.0 client gets a body that ends with the connection, never chunked', async (t) => {
  const up = await httpUpstream((_req, res) => {
    res.write('a');
    setTimeout(() => res.end('b'), 10); // chunked from the upstream
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'all', destinations: [{ cluster: 'app' }] }])], [cluster('app', [up.port])]));
  t.after(() => p.close());
  const r = await raw(p.port(), 'GET / HTTP/1.0\r\nHost: app\r\n\r\n');
  assert.equal(statusOf(r.text), 200);
  assert.doesNotMatch(r.text, /transfer-encoding/i);
  assert.match(r.text, /connection: close\r\n/i);
  assert.ok(r.text.endsWith('\r\n\r\nab'), `body is the raw bytes: ${JSON.stringify(r.text)}`);
  assert.equal(r.closed, true);
});

test('HEAD gets the head only, and the connection goes on with the next request', async (t) => {
  const { port } = await recordingMesh(t);
  const r = await raw(port, 'HEAD /h HTTP/1.1\r\nHost: app\r\n\r\nGET /g HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n');
  assert.deepEqual(statuses(r.text), [200, 200]);
  // The GET's body "ok" is the only body on the wire.
  assert.equal(r.text.split('\r\n\r\n').filter((part) => part.startsWith('ok')).length, 1);
  assert.ok(r.text.endsWith('\r\n\r\nok'));
});

test('a client that half-closes after its request still gets the whole response, then a close', async (t) => {
  const { port } = await recordingMesh(t);
  const net = await import('node:net');
  const text = await new Promise<string>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end('GET /x HTTP/1.1\r\nHost: app\r\n\r\n'));
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
  assert.equal(statusOf(text), 200);
  assert.ok(text.endsWith('\r\n\r\nok'));
});

test('a request the proxy answers before reading its body: the body is skipped and the next request is served', async (t) => {
  const { up, seen } = await recordingMesh(t);
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'app', match: { hosts: ['app'] }, destinations: [{ cluster: 'app' }] }])], [cluster('app', [up.port])]));
  t.after(() => p.close());
  const body = 'x'.repeat(100_000);
  const r = await raw(p.port(), `POST /nowhere HTTP/1.1\r\nHost: elsewhere\r\nContent-Length: ${body.length}\r\n\r\n${body}GET /next HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n`);
  assert.deepEqual(statuses(r.text), [404, 200]);
  assert.match(r.text, /x-mesh-error: no-route/);
  assert.deepEqual(
    seen.map((x) => x.url),
    ['/next'],
  );
});

test('a transfer coding other than chunked is refused with 501 and never forwarded', async (t) => {
  const { port, seen } = await recordingMesh(t);
  const r = await raw(port, 'POST /a HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n');
  assert.equal(statusOf(r.text), 501);
  assert.match(r.text, /x-mesh-error: downstream-protocol-error HPE_INVALID_TRANSFER_ENCODING/);
  assert.equal(r.closed, true);
  assert.equal(seen.length, 0);
});
