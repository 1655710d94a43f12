import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamEndpoint } from '../../../src/proxy/clusters/upstream-endpoint.ts';
import { RoundRobin } from '../../../src/proxy/clusters/load-balancers/round-robin.ts';
import { LeastRequest } from '../../../src/proxy/clusters/load-balancers/least-request.ts';
import { PeakEwma } from '../../../src/proxy/clusters/load-balancers/peak-ewma.ts';

const ep = (port: number) => new UpstreamEndpoint('http1', '127.0.0.1', port, 1);

test('round robin honours endpoint weights, interleaved', () => {
  const [a, b] = [ep(1), ep(2)];
  const rr = new RoundRobin([a, b], [2, 1]);
  assert.deepEqual(Array.from({ length: 6 }, () => rr.pick()!.port), [1, 2, 1, 1, 2, 1]);
  assert.equal(new RoundRobin([], []).pick(), undefined);
});

test('least request picks the endpoint with fewer requests in flight', () => {
  const [a, b] = [ep(1), ep(2)];
  a.inflight = 5;
  const lr = new LeastRequest([a, b]);
  for (let i = 0; i < 20; i++) assert.equal(lr.pick(), b);
});

test('peak EWMA: a latency peak counts at once, and in-flight work raises the cost', () => {
  const [a, b] = [ep(1), ep(2)];
  const now = process.hrtime.bigint();
  a.observe(50e6, now);
  b.observe(1e6, now);
  const lb = new PeakEwma([a, b]);
  for (let i = 0; i < 20; i++) assert.equal(lb.pick(), b);
  b.inflight = 100; // 1 ms × 101 > 50 ms × 1
  for (let i = 0; i < 20; i++) assert.equal(lb.pick(), a);
  assert.ok(a.cost(now) === 50e6);
});
