// Token bucket arithmetic with a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedBuckets, TokenBucket } from '../../../src/proxy/filters/token-bucket.ts';

test('a bucket grants its burst, then one token per 1/rate seconds, and says how long to wait', () => {
  const b = new TokenBucket(10, 3, 0);
  assert.deepEqual([b.take(0), b.take(0), b.take(0)], [0, 0, 0]);
  assert.ok(Math.abs(b.take(0) - 0.1) < 1e-9);
  assert.equal(b.take(100), 0); // 100 ms later: one token
  assert.ok(b.take(100) > 0);
  assert.deepEqual([b.take(10_000), b.take(10_000), b.take(10_000)], [0, 0, 0]); // refills to burst, not beyond
  assert.ok(b.take(10_000) > 0);
});

test('keyed buckets are independent and bounded', () => {
  const k = new KeyedBuckets(1, 1);
  assert.equal(k.take('a', 0), 0);
  assert.ok(k.take('a', 0) > 0);
  assert.equal(k.take('b', 0), 0);
  for (let i = 0; i < 10_050; i++) k.take(`k${i}`, 0);
  // 'a' was evicted first: it starts full again.
  assert.equal(k.take('a', 0), 0);
});
