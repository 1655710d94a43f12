// The stale keep-alive race: the upstream closes a pooled connection just as
// the proxy reuses it, before any response byte. A request that is safe to
// resend goes once more on a fresh connection; a POST is not resent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { request } from '../../harness/http-client.ts';
import { tcpUpstream } from '../../harness/upstream-servers.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { metric } from './metric-value.ts';

/** Answers the first request on each connection and drops the connection when the second one arrives. */
function dropSecondRequest(s: net.Socket): void {
  let buf = '';
  let requests = 0;
  s.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    let end: number;
    while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
      const head = buf.slice(0, end);
      const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      buf = buf.slice(end + 4 + len);
      if (++requests === 2) {
        s.destroy();
        return;
      }
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
    }
  });
}

test('a request on a pooled connection the upstream just closed is retried once on a fresh one', async (t) => {
  const up = await tcpUpstream(dropSecondRequest);
  t.after(() => up.close());
  // No retry policy on the route: the stale-connection retry needs none.
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'pay', destinations: [{ cluster: 'payments' }] }])], [cluster('payments', [up.port])]));
  t.after(() => p.close());
  const get = () => request(p.port(), { headers: { host: 'payments' } });
  assert.equal((await get()).status, 200);
  assert.equal(up.connections, 1);
  const r = await get(); // lands on the pooled connection, which the upstream drops
  assert.equal(r.status, 200);
  assert.equal(r.body, 'ok');
  assert.equal(r.headers['x-mesh-attempts'], '2');
  assert.equal(up.connections, 2);
  assert.equal(await metric(p.adminPort(), 'mesh_retries_total', { route: 'pay', reason: 'stale-connection' }), 1);
  assert.equal(await metric(p.adminPort(), 'mesh_requests_total', { route: 'pay', status_code: '200' }), 2);

  // A POST on the next stale connection is not resent: the client sees the reset, explained.
  const post = await request(p.port(), { method: 'POST', headers: { host: 'payments' }, body: 'pay=1' });
  assert.equal(post.status, 502);
  assert.match(String(post.headers['x-mesh-error']), /^upstream-reset payments 127\.0\.0\.1:\d+ /);
  assert.equal(await metric(p.adminPort(), 'mesh_retries_total', { reason: 'stale-connection' }), 1);
});
