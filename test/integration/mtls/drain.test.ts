// Draining the callee sidecar: an h2-over-mTLS session gets GOAWAY, and the
// request in flight on it still finishes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { calleeSnapshot, callerSnapshot, identityFor, meshCa, runProxy } from './mtls-harness.ts';
import { eventually } from '../../harness/eventually.ts';

test('drain over mTLS: the in-flight request finishes, then the session closes', async (t) => {
  const ca = await meshCa(t);
  let release: (() => void) | undefined;
  const app = http.createServer((req, res) => {
    if (req.url === '/slow') release = () => res.end('slow done');
    else res.end('ok');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    app.closeAllConnections();
    app.close();
  });
  const callee = await runProxy(t, calleeSnapshot('payments', (app.address() as AddressInfo).port), await identityFor(t, ca, 'payments'));
  const caller = await runProxy(t, callerSnapshot('orders', 'payments', callee.port('in')), await identityFor(t, ca, 'orders'));
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: caller.port('out'), path, headers: { host: 'payments' }, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      }).on('error', reject);
    });
  assert.equal((await get('/')).status, 200);
  const slow = get('/slow');
  await eventually(() => assert.ok(release));
  const drained = callee.proxy.drain(5000);
  await new Promise((r) => setTimeout(r, 50)); // drain has sent GOAWAY and is waiting for the stream
  release!();
  assert.deepEqual(await slow, { status: 200, body: 'slow done' });
  await drained;
});
