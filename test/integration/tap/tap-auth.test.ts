// A sidecar's admin /tap shows request paths, so with a service token set it
// opens only for a bearer of that token (the controller); /metrics stays open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startProxy } from '../../../src/proxy/proxy.ts';

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    req.on('error', reject);
    req.end();
  });
}

test('with a service token, /tap answers 401 without it or with another, and streams with it', async (t) => {
  const proxy = await startProxy({ admin: { host: '127.0.0.1', port: 0 }, adminToken: 'token-of-web' });
  t.after(() => proxy.close());
  const port = proxy.adminAddress()!.port;
  assert.equal(await get(port, '/tap'), 401);
  assert.equal(await get(port, '/tap', { authorization: 'Bearer token-of-order' }), 401);
  assert.equal(await get(port, '/tap', { authorization: 'Bearer token-of-web' }), 200);
  assert.equal(await get(port, '/metrics'), 200);
});

test('without a service token (a proxy run alone from a file), /tap is open as before', async (t) => {
  const proxy = await startProxy({ admin: { host: '127.0.0.1', port: 0 } });
  t.after(() => proxy.close());
  assert.equal(await get(proxy.adminAddress()!.port, '/tap'), 200);
});
