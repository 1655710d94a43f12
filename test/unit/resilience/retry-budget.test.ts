// Retry budget and backoff with a fake clock and fake randomness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetryBudget } from '../../../src/proxy/clusters/retry-budget.ts';
import { backoffMs } from '../../../src/proxy/clusters/backoff.ts';

test('retries stay within ratio × requests plus the floor over the window', () => {
  let now = 1_000_000;
  const b = new RetryBudget(0.2, 1, () => now);
  for (let i = 0; i < 50; i++) b.recordRequest();
  let granted = 0;
  while (b.tryRetry()) granted++;
  assert.equal(granted, 0.2 * 50 + 1 * 10);
  // The window slides: after 10 s the old requests and retries are forgotten.
  now += 10_000;
  let later = 0;
  while (b.tryRetry()) later++;
  assert.equal(later, 10); // the floor alone
});

test('a zero floor allows no retry before any request', () => {
  const b = new RetryBudget(0.5, 0, () => 0);
  assert.equal(b.tryRetry(), false);
  b.recordRequest();
  b.recordRequest();
  assert.equal(b.tryRetry(), true);
  assert.equal(b.tryRetry(), false);
});

test('backoff grows exponentially to the cap with full jitter', () => {
  assert.equal(backoffMs(1, 25, 250, () => 0.999999), 24);
  assert.equal(backoffMs(3, 25, 250, () => 0.999999), 99);
  assert.equal(backoffMs(10, 25, 250, () => 0.999999), 249);
  assert.equal(backoffMs(5, 25, 250, () => 0), 0);
});
