// Applying snapshots: atomic swap, identical pushes change nothing, unrelated
// route changes keep live streams and pooled connections, invalid snapshots
// are rejected while the old one keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { httpUpstream, echoHandler } from '../../harness/upstream-servers.ts';
import { startTestProxy, snapshot, httpListener, cluster } from '../../harness/proxy-builder.ts';
import { request } from '../../harness/http-client.ts';
import { eventually } from '../../harness/eventually.ts';

test('a long-lived stream survives an identical push and a change to an unrelated route; the upstream connection is reused', async (t) => {
  let streamRes: http.ServerResponse | undefined;
  const up = await httpUpstream((req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 0\n\n');
      streamRes = res;
      return;
    }
    echoHandler('payments')(req, res);
  });
  t.after(() => up.close());
  const other = await httpUpstream(echoHandler('other'));
  t.after(() => other.close());
  const routes = [{ name: 'payments', match: { hosts: ['payments'] }, destinations: [{ cluster: 'payments' }] }];
  const v1 = snapshot([httpListener('out', routes)], [cluster('payments', [up.port]), cluster('other', [other.port])]);
  const p = await startTestProxy(v1);
  t.after(() => p.close());
  const port = p.port();

  const chunks: string[] = [];
  let ended = false;
  const client = http.get({ host: '127.0.0.1', port, path: '/stream', headers: { host: 'payments' } }, (res) => {
    res.on('data', (c: Buffer) => chunks.push(c.toString()));
    res.on('end', () => (ended = true));
  });
  t.after(() => client.destroy());
  await eventually(() => assert.equal(chunks.length, 1));

  const same = await p.proxy.apply({ ...v1, version: 2 });
  assert.deepEqual(same, { ok: true, changed: false, version: 2, hash: p.proxy.current()!.hash });

  const v3 = snapshot(
    [httpListener('out', [...routes, { name: 'other', match: { hosts: ['other'] }, destinations: [{ cluster: 'other' }] }])],
    [cluster('payments', [up.port]), cluster('other', [other.port])],
    { version: 3 },
  );
  const changed = await p.proxy.apply(v3);
  assert.ok(changed.ok && changed.changed);
  assert.equal(p.port(), port, 'the listener socket was kept');
  // The new route serves at once, on the same listener.
  assert.equal(JSON.parse((await request(port, { headers: { host: 'other' } })).body).name, 'other');

  streamRes!.write('data: 1\n\n');
  streamRes!.end('data: 2\n\n');
  await eventually(() => assert.ok(ended));
  assert.equal(chunks.join(''), 'data: 0\n\ndata: 1\n\ndata: 2\n\n');
  // A new request to payments rides the pooled keep-alive connection from before the swaps.
  const before = up.connections;
  assert.equal((await request(port, { headers: { host: 'payments' } })).status, 200);
  assert.equal(up.connections, before, 'no new upstream connection after the swaps');
});

test('an invalid snapshot is rejected with field paths; the old one keeps serving', async (t) => {
  const up = await httpUpstream(echoHandler('a'));
  t.after(() => up.close());
  const v1 = snapshot([httpListener('out', [{ name: 'a', destinations: [{ cluster: 'a' }] }])], [cluster('a', [up.port])]);
  const p = await startTestProxy(v1);
  t.after(() => p.close());
  const bad = await p.proxy.apply({ ...v1, version: 2, listeners: [{ ...v1.listeners![0], routes: [{ name: 'a', destinations: [{ cluster: 'missing' }] }] }] });
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok && bad.issues.some((i) => i.startsWith('listeners[0].routes[0].destinations[0].cluster')), JSON.stringify(bad));
  const notJson = await p.proxy.apply('{"version": ');
  assert.equal(notJson.ok, false);
  assert.equal(p.proxy.current()!.version, 1);
  assert.equal((await request(p.port())).status, 200);
});

test('apply() takes raw JSON text, as the controller client sends it', async (t) => {
  const up = await httpUpstream(echoHandler('a'));
  t.after(() => up.close());
  const p = await startTestProxy(undefined);
  t.after(() => p.close());
  const r = await p.proxy.apply(JSON.stringify(snapshot([httpListener('out', [{ name: 'a', destinations: [{ cluster: 'a' }] }])], [cluster('a', [up.port])], { version: 9 })));
  assert.ok(r.ok && r.changed && r.version === 9);
  assert.equal((await request(p.port('out'))).status, 200);
});

test('a listener bind failure rejects the snapshot and keeps the old one', async (t) => {
  const up = await httpUpstream(echoHandler('a'));
  t.after(() => up.close());
  const v1 = snapshot([httpListener('out', [{ name: 'a', destinations: [{ cluster: 'a' }] }])], [cluster('a', [up.port])]);
  const p = await startTestProxy(v1);
  t.after(() => p.close());
  const clash = await p.proxy.apply({ ...v1, version: 2, listeners: [...v1.listeners!, { ...v1.listeners![0]!, name: 'clash', port: up.port }] });
  assert.equal(clash.ok, false);
  assert.ok(!clash.ok && clash.issues[0]!.startsWith('listeners[1].port'), JSON.stringify(clash));
  assert.equal(p.proxy.current()!.version, 1);
  assert.equal((await request(p.port())).status, 200);
});

test("changing a listener's address binds it anew and closes the old socket", async (t) => {
  const up = await httpUpstream(echoHandler('a'));
  t.after(() => up.close());
  const v1 = snapshot([httpListener('out', [{ name: 'a', destinations: [{ cluster: 'a' }] }])], [cluster('a', [up.port])]);
  const p = await startTestProxy(v1);
  t.after(() => p.close());
  const oldPort = p.port();
  const r = await p.proxy.apply({ ...v1, version: 2, listeners: [{ ...v1.listeners![0]!, address: '127.0.0.2' }] });
  assert.ok(r.ok && r.changed);
  assert.equal(p.proxy.listenerAddress('out')!.address, '127.0.0.2');
  await eventually(() => assert.rejects(request(oldPort)));
});
