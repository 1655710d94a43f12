// HTTP/1.1 through the proxy: routing by Host, header handling, keep-alive,
// chunked bodies, Expect: 100-continue, proxy-generated errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { httpUpstream, echoHandler, closedPort } from '../../harness/upstream-servers.ts';
import { startTestProxy, snapshot, httpListener, cluster } from '../../harness/proxy-builder.ts';
import { request } from '../../harness/http-client.ts';

test('HTTP/1.1: Host routing, header case kept, hop-by-hop removed, x-forwarded-* and forwarded appended', async (t) => {
  const up = await httpUpstream(echoHandler('payments'));
  t.after(() => up.close());
  const p = await startTestProxy(
    snapshot([httpListener('out', [{ name: 'payments', match: { hosts: ['payments'] }, destinations: [{ cluster: 'payments' }] }])], [cluster('payments', [up.port])]),
  );
  t.after(() => p.close());
  const r = await request(p.port(), {
    path: '/pay?x=1',
    headers: [
      'Host', 'payments:8080',
      'X-Custom-Case', 'Kept',
      'Connection', 'keep-alive, X-Drop-Me',
      'X-Drop-Me', 'secret',
      'Keep-Alive', 'timeout=5',
      'Proxy-Authorization', 'Basic abc',
      'X-Forwarded-For', '10.0.0.1',
      'TE', 'trailers, deflate',
    ],
  });
  assert.equal(r.status, 200);
  const seen = JSON.parse(r.body);
  assert.equal(seen.url, '/pay?x=1');
  const raw: string[] = seen.rawHeaders;
  assert.ok(raw.includes('X-Custom-Case'), 'header case preserved');
  assert.equal(seen.headers['x-drop-me'], undefined, 'header named by Connection removed');
  assert.equal(seen.headers['keep-alive'], undefined);
  assert.equal(seen.headers['proxy-authorization'], undefined);
  assert.equal(seen.headers.te, 'trailers');
  assert.equal(seen.headers.host, 'payments:8080');
  assert.equal(seen.headers['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-forwarded-host'], 'payments:8080');
  assert.equal(seen.headers.forwarded, 'for=127.0.0.1;host="payments:8080";proto=http');
  assert.match(seen.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  // Response header case from the upstream is kept too.
  assert.ok(r.rawHeaders.includes('X-Upstream-Name'));
});

test('HTTP/1.1: keep-alive to the client and pooled connections to the upstream', async (t) => {
  const up = await httpUpstream(echoHandler('a'));
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'all', destinations: [{ cluster: 'a' }] }])], [cluster('a', [up.port])]));
  t.after(() => p.close());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  for (let i = 0; i < 20; i++) assert.equal((await request(p.port(), { agent })).status, 200);
  assert.equal(up.connections, 1, 'sequential requests reuse one upstream connection');
});

test('HTTP/1.1: chunked request and response bodies stream through', async (t) => {
  const up = await httpUpstream((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }); // no length: chunked
    req.on('data', (c: Buffer) => res.write(c.toString().toUpperCase()));
    req.on('end', () => res.end('!'));
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'all', destinations: [{ cluster: 'a' }] }])], [cluster('a', [up.port])]));
  t.after(() => p.close());
  // The first response chunk arrives before the request body is finished: nothing is buffered.
  const got = await new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: p.port(), method: 'POST', path: '/', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      assert.equal(res.headers['transfer-encoding'], 'chunked');
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
        if (text === 'PING') req.end('pong');
      });
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.write('ping');
  });
  assert.equal(got, 'PINGPONG!');
});

test('HTTP/1.1: Expect: 100-continue gets a 100 before the body is sent', async (t) => {
  const up = await httpUpstream(echoHandler('a'));
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'all', destinations: [{ cluster: 'a' }] }])], [cluster('a', [up.port])]));
  t.after(() => p.close());
  const body = await new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: p.port(), method: 'PUT', path: '/', headers: { expect: '100-continue', 'content-length': 5 } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.on('continue', () => req.end('12345'));
    req.on('error', reject);
  });
  assert.equal(JSON.parse(body).bodyBytes, 5);
});

test('proxy-generated errors name the hop and reason in x-mesh-error', async (t) => {
  const dead = await closedPort();
  const p = await startTestProxy(
    snapshot(
      [
        httpListener('out', [
          { name: 'dead', match: { hosts: ['payments'] }, destinations: [{ cluster: 'payments' }] },
          { name: 'empty', match: { hosts: ['empty'] }, destinations: [{ cluster: 'empty' }] },
        ]),
      ],
      [cluster('payments', [dead]), cluster('empty', [])],
    ),
  );
  t.after(() => p.close());
  const a = await request(p.port(), { headers: { host: 'payments' } });
  assert.equal(a.status, 503);
  assert.equal(a.headers['x-mesh-error'], `upstream-connect-failure payments 127.0.0.1:${dead} ECONNREFUSED`);
  const b = await request(p.port(), { headers: { host: 'nowhere' } });
  assert.equal(b.status, 404);
  assert.match(String(b.headers['x-mesh-error']), /^no-route /);
  const c = await request(p.port(), { headers: { host: 'empty' } });
  assert.equal(c.status, 503);
  assert.equal(c.headers['x-mesh-error'], 'no-healthy-endpoint empty');
  // With a request body too (the body stream must not take the client connection down).
  const d = await request(p.port(), { method: 'POST', headers: { host: 'payments' }, body: 'x'.repeat(1000) });
  assert.equal(d.status, 503);
  assert.match(String(d.headers['x-mesh-error']), /ECONNREFUSED/);
});
