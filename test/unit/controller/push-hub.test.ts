import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { PushHub } from '../../../src/controller/push/push-hub.ts';
import { parseSnapshot, type Snapshot } from '../../../src/shared/snapshot.ts';

function snap(service: string, port: number): Snapshot {
  const r = parseSnapshot({ version: 0, node: { service }, clusters: [{ name: 'c', endpoints: [{ address: '10.0.0.1', port }] }] });
  assert.ok(r.ok);
  return r.snapshot;
}

/** A ServerResponse stand-in that records NDJSON lines. */
function stream() {
  const s = new PassThrough() as PassThrough & { writeHead(): unknown; lines(): any[] };
  const chunks: string[] = [];
  s.on('data', (c) => chunks.push(String(c)));
  s.writeHead = () => s;
  s.lines = () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return s;
}
const snapshots = (s: ReturnType<typeof stream>) => s.lines().filter((m) => m.type === 'snapshot').map((m) => m.snapshot);

test('a subscriber gets a snapshot only when the content hash changes, with rising versions', async (t) => {
  const hub = new PushHub();
  t.after(() => hub.close());
  hub.setDesired(new Map([['p1', snap('a', 1)]]));
  const s = stream();
  hub.subscribe({ service: 'a', proxyId: 'p1' }, s as unknown as ServerResponse, '127.0.0.1');
  hub.setDesired(new Map([['p1', snap('a', 1)]])); // same content
  hub.setDesired(new Map([['p1', snap('a', 2)]]));
  await new Promise((r) => setImmediate(r));
  const got = snapshots(s);
  assert.equal(got.length, 2);
  assert.ok(got[1].version > got[0].version);
  assert.notEqual(got[1].hash, got[0].hash);
});

test('a proxy that already holds the desired hash gets nothing and counts as ACKed at its own version', async (t) => {
  const hub = new PushHub();
  t.after(() => hub.close());
  const desired = snap('a', 1);
  hub.setDesired(new Map([['p1', desired]]));
  const s = stream();
  hub.subscribe({ service: 'a', proxyId: 'p1', hash: desired.hash, version: 41 }, s as unknown as ServerResponse, '127.0.0.1');
  await new Promise((r) => setImmediate(r));
  assert.equal(snapshots(s).length, 0);
  const [st] = hub.status();
  assert.equal(st!.inSync, true);
  assert.equal(st!.desired!.version, 41);
  // the next change continues above what the proxy had
  hub.setDesired(new Map([['p1', snap('a', 2)]]));
  await new Promise((r) => setImmediate(r));
  assert.ok(snapshots(s)[0].version > 41);
});

test('a NACK is recorded with its reason and the proxy is not in sync', (t) => {
  const hub = new PushHub();
  t.after(() => hub.close());
  const d = snap('a', 1);
  hub.setDesired(new Map([['p1', d]]));
  hub.ack({ service: 'a', proxyId: 'p1', version: 1, hash: d.hash!, ok: false, error: 'bad regex' });
  const [st] = hub.status();
  assert.equal(st!.inSync, false);
  assert.equal(st!.ack!.error, 'bad regex');
});

test('a Docker sidecar subscribing with its short container id gets the snapshot built for the full id', async (t) => {
  const hub = new PushHub();
  t.after(() => hub.close());
  const full = 'abcdef0123456789'.repeat(4);
  hub.setDesired(new Map([[full, snap('a', 1)]]));
  const s = stream();
  hub.subscribe({ service: 'a', proxyId: full.slice(0, 12) }, s as unknown as ServerResponse, '127.0.0.1');
  await new Promise((r) => setImmediate(r));
  assert.equal(snapshots(s).length, 1);
  // and a subscriber claiming another service gets nothing
  const other = stream();
  hub.subscribe({ service: 'b', proxyId: full.slice(0, 12) }, other as unknown as ServerResponse, '127.0.0.1');
  await new Promise((r) => setImmediate(r));
  assert.equal(snapshots(other).length, 0);
});

test('a sidecar known by its short and its full id is listed once, in sync, whichever the controller learned first', async (t) => {
  const hub = new PushHub();
  t.after(() => hub.close());
  const full = '0123456789abcdef'.repeat(4);
  const short = full.slice(0, 12);
  // The sidecar subscribes before discovery has seen its container.
  const s = stream();
  hub.subscribe({ service: 'a', proxyId: short }, s as unknown as ServerResponse, '127.0.0.1');
  hub.setDesired(new Map([[full, snap('a', 1)]]));
  await new Promise((r) => setImmediate(r));
  const [sent] = snapshots(s);
  assert.ok(sent);
  hub.ack({ service: 'a', proxyId: short, version: sent.version, hash: sent.hash, ok: true });
  const status = hub.status();
  assert.deepEqual(status.map((p) => p.proxyId), [full]);
  assert.equal(status[0]!.connected, true);
  assert.equal(status[0]!.inSync, true);
  // Its stream closing is seen under the full id too.
  s.emit('close');
  assert.equal(hub.status()[0]!.connected, false);
});

test('after a controller restart, a sidecar that resubscribes holding the desired hash before discovery has seen its container counts as in sync once it has', async (t) => {
  const hub = new PushHub();
  t.after(() => hub.close());
  const full = 'fedcba9876543210'.repeat(4);
  const held = snap('a', 1);
  // The restarted controller takes subscriptions before its first discovery sync.
  const s = stream();
  hub.subscribe({ service: 'a', proxyId: full.slice(0, 12), hash: held.hash, version: 7 }, s as unknown as ServerResponse, '127.0.0.1');
  assert.equal(hub.status()[0]!.inSync, false);
  hub.setDesired(new Map([[full, snap('a', 1)]]));
  await new Promise((r) => setImmediate(r));
  assert.equal(snapshots(s).length, 0, 'the proxy holds it already');
  const [st] = hub.status();
  assert.equal(st!.proxyId, full);
  assert.equal(st!.inSync, true);
  // Versions stay monotonic across the restart: never below what the proxy holds.
  const version = st!.desired!.version;
  assert.ok(version >= 7);
  assert.equal(st!.ack!.version, version);
  // A rebuild with the same content changes nothing; a change is sent above the proxy's version.
  hub.setDesired(new Map([[full, snap('a', 1)]]));
  assert.equal(hub.status()[0]!.ack!.version, version);
  hub.setDesired(new Map([[full, snap('a', 2)]]));
  await new Promise((r) => setImmediate(r));
  assert.ok(snapshots(s)[0].version > 7);
});
