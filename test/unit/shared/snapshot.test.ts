import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSnapshot, snapshotHash, canonicalJson } from '../../../src/shared/snapshot.ts';

const base = {
  version: 1,
  node: { service: 'orders' },
  listeners: [
    {
      name: 'out-http',
      port: 15001,
      direction: 'outbound',
      protocol: 'http',
      routes: [{ name: 'payments', match: { hosts: ['payments'] }, destinations: [{ cluster: 'payments' }] }],
    },
  ],
  clusters: [{ name: 'payments', endpoints: [{ address: '127.0.0.1', port: 8080 }] }],
};

test('a valid snapshot parses, gets defaults and a content hash', () => {
  const r = parseSnapshot(base);
  assert.ok(r.ok);
  assert.equal(r.snapshot.listeners[0]!.address, '0.0.0.0');
  assert.equal(r.snapshot.clusters[0]!.lb, 'peak_ewma');
  assert.match(r.snapshot.hash!, /^[0-9a-f]{16}$/);
});

test('the hash ignores version and key order, and changes with content', () => {
  const a = parseSnapshot(base);
  const b = parseSnapshot({ ...base, version: 7, clusters: [{ endpoints: [{ port: 8080, address: '127.0.0.1' }], name: 'payments' }] });
  const c = parseSnapshot({ ...base, clusters: [{ name: 'payments', endpoints: [{ address: '127.0.0.1', port: 8081 }] }] });
  assert.ok(a.ok && b.ok && c.ok);
  assert.equal(a.snapshot.hash, b.snapshot.hash);
  assert.notEqual(a.snapshot.hash, c.snapshot.hash);
  assert.equal(snapshotHash(a.snapshot), a.snapshot.hash);
});

test('an invalid snapshot is rejected with the path of each bad field', () => {
  const r = parseSnapshot({ ...base, listeners: [{ ...base.listeners[0], port: 70000 }] });
  assert.ok(!r.ok);
  assert.match(r.error, /listeners\[0\]\.port/);
});

test('a route to an unknown cluster is rejected by name', () => {
  const r = parseSnapshot({ ...base, clusters: [] });
  assert.ok(!r.ok);
  assert.match(r.error, /listeners\[0\]\.routes\[0\]\.destinations\[0\]\.cluster: unknown cluster "payments"/);
});

test('canonical JSON sorts keys at every depth', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: 2 } }), '{"a":{"c":2,"d":[1,{"y":2,"z":1}]},"b":1}');
});
