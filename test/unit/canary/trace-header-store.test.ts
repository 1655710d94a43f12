// The header-propagation memory stays bounded: entries expire after ttlMs and
// the oldest go once maxEntries are held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TraceHeaderStore } from '../../../src/proxy/filters/trace-header-store.ts';

test('entries expire after ttl, the oldest are evicted beyond maxEntries, a write refreshes', () => {
  const s = new TraceHeaderStore();
  s.set('a', ['x-canary', '1'], 1000, 3, 0);
  assert.deepEqual(s.get('a', 999), ['x-canary', '1']);
  assert.equal(s.get('a', 1000), undefined);
  assert.equal(s.size, 0);
  for (const id of ['a', 'b', 'c']) s.set(id, ['x-canary', id], 1000, 3, 0);
  s.set('a', ['x-canary', 'a2'], 1000, 3, 10); // refreshed: now the newest
  s.set('d', ['x-canary', 'd'], 1000, 3, 20);
  assert.equal(s.size, 3);
  assert.equal(s.get('b', 20), undefined, 'the oldest went');
  assert.deepEqual(s.get('a', 20), ['x-canary', 'a2']);
  // A write also drops the expired ones at the old end.
  s.set('e', ['x-canary', 'e'], 1000, 3, 1005);
  assert.equal(s.size, 3);
  assert.equal(s.get('c', 1005), undefined);
  for (let i = 0; i < 10_000; i++) s.set(`t${i}`, ['x-canary', '1'], 60_000, 100, 2000);
  assert.equal(s.size, 100);
});
