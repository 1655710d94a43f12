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

test('peak EWMA: a connect failure holds an endpoint back briefly, not for a minute (a replica refused while still starting)', () => {
  const [a, b, c, fresh] = [ep(1), ep(2), ep(3), ep(4)];
  const now = process.hrtime.bigint();
  const ago = (ms: number) => now - BigInt(ms * 1e6);
  for (const x of [a, b, c]) x.observe(7e6, ago(2000));
  // Its first request was refused (the app was not listening yet): held back at once...
  fresh.observeFailure(ago(2000));
  assert.ok(fresh.cost(ago(1990)) > a.cost(ago(1990)));
  // ...and two seconds later it costs less than its peers again (a fresh estimate), so P2C picks it.
  assert.ok(fresh.cost(now) < a.cost(now), `${fresh.cost(now)} vs ${a.cost(now)}`);
  const lb = new PeakEwma([a, b, c, fresh]);
  assert.ok(Array.from({ length: 200 }, () => lb.pick()).includes(fresh));
});

test('peak EWMA: failures in a row hold an endpoint back longer, up to a bound; an answer ends the hold', () => {
  const [dead, ok] = [ep(1), ep(2)];
  const t0 = process.hrtime.bigint();
  const at = (ms: number) => t0 + BigInt(ms * 1e6);
  ok.observe(5e6, t0);
  dead.observeFailure(at(0));
  assert.ok(dead.cost(at(300)) < ok.cost(at(300))); // the first hold is short
  dead.observeFailure(at(300));
  dead.observeFailure(at(900));
  dead.observeFailure(at(2000));
  assert.ok(dead.cost(at(3500)) > ok.cost(at(3500))); // the fourth holds it 2 s
  for (let i = 0; i < 20; i++) dead.observeFailure(at(4000));
  assert.ok(dead.cost(at(4000 + 7000)) > ok.cost(at(4000 + 7000)));
  assert.ok(dead.cost(at(4000 + 9000)) < ok.cost(at(4000 + 9000))); // never more than 8 s
  dead.observeFailure(at(20_000));
  dead.observe(1e6, at(20_001)); // it answers (as fast as it ever did)
  assert.ok(dead.cost(at(20_002)) < ok.cost(at(20_002)));
});
