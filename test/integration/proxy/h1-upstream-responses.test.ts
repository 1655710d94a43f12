// Upstream HTTP/1.1 responses through `meshctl proxy`: every framing the
// client sees as the upstream meant it (Content-Length, chunked with
// trailers, close-delimited, HEAD/204/304, interim 1xx), and malformed or
// ambiguous responses answered 502 upstream-protocol-error (or, once the head
// is out, a cut response), never forwarded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { tcpUpstream } from '../../harness/upstream-servers.ts';
import { request } from '../../harness/http-client.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';

type T = import('node:test').TestContext;

/** A raw upstream answering each request head with answer(path, method); `close` ends the connection after. */
async function rawMesh(t: T, answer: (path: string, method: string) => { bytes: string; close?: boolean }) {
  const up = await tcpUpstream((s: net.Socket) => {
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
        const [method, path] = buf.slice(0, end).split(' ');
        buf = buf.slice(end + 4);
        const a = answer(path!, method!);
        if (a.close) s.end(a.bytes);
        else s.write(a.bytes);
      }
    });
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'all', destinations: [{ cluster: 'up' }] }])], [cluster('up', [up.port])]));
  t.after(() => p.close());
  return { up, p };
}

test('framings pass through: chunked with trailers, close-delimited, HEAD, 204, 304, interim 1xx skipped', async (t) => {
  const { p } = await rawMesh(t, (path) => {
    switch (path) {
      case '/chunked':
        return { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n' };
      case '/close':
        return { bytes: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end', close: true };
      case '/204':
        return { bytes: 'HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n' };
      case '/304':
        return { bytes: 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n' };
      case '/interim':
        return { bytes: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok' };
      default:
        return { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n' + 'x'.repeat(1024) };
    }
  });
  const chunked = await request(p.port(), { path: '/chunked', headers: { te: 'trailers' } });
  assert.equal(chunked.body, 'abcde');
  assert.equal(chunked.trailers['x-sum'], '5');
  const close = await request(p.port(), { path: '/close' });
  assert.equal(close.status, 200);
  assert.equal(close.body, 'until the end');
  const head = await request(p.port(), { method: 'HEAD', path: '/head' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '1024');
  assert.equal(head.body, '');
  const r204 = await request(p.port(), { path: '/204' });
  assert.equal(r204.status, 204);
  assert.equal(r204.headers['x-a'], '1');
  const r304 = await request(p.port(), { path: '/304' });
  assert.equal(r304.status, 304);
  assert.equal(r304.headers.etag, '"v1"');
  const interim = await request(p.port(), { path: '/interim' });
  assert.equal(interim.status, 201);
  assert.equal(interim.body, 'ok');
  // And a plain one after all of that, on the pooled connections.
  assert.equal((await request(p.port(), { path: '/plain' })).body.length, 1024);
});

test('ambiguous or malformed response heads: 502 upstream-protocol-error with the parser code, nothing forwarded', async (t) => {
  const heads: Record<string, string> = {
    '/cl-te': 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    '/dup-cl': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n',
    '/te-gzip': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    '/fold': 'HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n',
    '/bare-lf': 'HTTP/1.1 200 OK\nContent-Length: 0\n\n',
    '/status': 'HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n',
  };
  const { p } = await rawMesh(t, (path) => ({ bytes: heads[path]!, close: path === '/bare-lf' }));
  for (const path of Object.keys(heads)) {
    const r = await request(p.port(), { path });
    assert.equal(r.status, 502, path);
    assert.match(String(r.headers['x-mesh-error']), /^upstream-protocol-error up 127\.0\.0\.1:\d+ HPE_[A-Z_]+$/, path);
    assert.doesNotMatch(r.body, /HTTP\/1\.1 200/, path);
  }
});

test('an invalid chunk after the head went out cuts the client response instead of ending it cleanly', async (t) => {
  const { p } = await rawMesh(t, () => ({ bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nnot-hex\r\n' }));
  const outcome = await new Promise<string>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: p.port(), path: '/', agent: false }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.complete ? 'complete' : 'incomplete'));
      res.on('error', () => resolve('error'));
      res.on('aborted', () => resolve('aborted'));
    });
    req.on('error', () => resolve('error'));
  });
  assert.notEqual(outcome, 'complete');
});

test('an HTTP/1 connect that does not complete in time answers 504 timeout connect', async (t) => {
  // A loopback connect completes at once: the pool is handed a socket that never connects instead
  // (net.connect stubbed for one reserved port; the client and proxy sockets stay real).
  const silent = await tcpUpstream(() => {});
  t.after(() => silent.close());
  const real = net.connect;
  t.mock.method(net, 'connect', (...args: unknown[]) => {
    const o = args[0] as { port?: number } | undefined;
    if (typeof o !== 'object' || o === null || o.port !== silent.port) return (real as (...a: unknown[]) => net.Socket)(...args);
    const s = new net.Socket();
    Object.defineProperty(s, 'connecting', { value: true, configurable: true });
    return s;
  });
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'all', destinations: [{ cluster: 'up' }] }])], [cluster('up', [silent.port], { timeouts: { connectMs: 100 } })]));
  t.after(() => p.close());
  const r = await request(p.port(), { method: 'POST', body: 'x' });
  assert.equal(r.status, 504);
  assert.equal(r.headers['x-mesh-error'], `timeout connect up 127.0.0.1:${silent.port} MESH_CONNECT_TIMEOUT`);
});
