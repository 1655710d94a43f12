import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage, AsyncResource, executionAsyncId } from 'node:async_hooks';
import http2 from 'node:http2';
import { once } from 'node:events';
import { useLeanAsyncResourceBind } from '../../../src/proxy/lean-async-resource-bind.ts';

// node:test runs each file in its own process, so the swap stays in this one.
useLeanAsyncResourceBind();

test('a bound function runs in the resource scope, with the caller this or thisArg, and keeps its length', () => {
  const als = new AsyncLocalStorage<string>();
  const resource = als.run('inside', () => new AsyncResource('test'));
  const seen: unknown[] = [];
  function probe(this: unknown, a: number, b: number) {
    seen.push(this, a + b, executionAsyncId() === resource.asyncId(), als.getStore());
    return 'result';
  }
  const bound = resource.bind(probe);
  assert.equal(bound.length, 2);
  assert.ok(!('asyncResource' in bound), 'the deprecated asyncResource property is gone');
  const self = { name: 'caller' };
  assert.equal(bound.call(self, 1, 2), 'result');
  assert.deepEqual(seen, [self, 3, true, 'inside']);
  const fixed = { name: 'fixed' };
  seen.length = 0;
  (resource.bind as (fn: typeof probe, thisArg: unknown) => typeof probe)(probe, fixed).call(self, 2, 3);
  assert.deepEqual(seen, [fixed, 5, true, 'inside']);
  // The static helper goes through the prototype method.
  assert.equal(AsyncResource.bind((x: number) => x * 2)(21), 42);
  assert.throws(() => resource.bind('nope' as unknown as () => void), TypeError);
});

test('node:http2 client requests work with the lean bind, before and after the session connects', async () => {
  const server = http2.createServer();
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.respond({ ':status': 200 });
    stream.end(String(headers[':path']));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as import('node:net').AddressInfo;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const get = (path: string) =>
    new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': path }, { endStream: true });
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => resolve(body));
      req.on('error', reject);
    });
  try {
    // The first request is queued until 'connect' (the bound callback runs later), the rest go at once.
    const early = get('/early');
    await once(session, 'connect');
    assert.deepEqual(await Promise.all([early, get('/a'), get('/b')]), ['/early', '/a', '/b']);
  } finally {
    session.close();
    server.close();
  }
});
