import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateSubnets, overlaps, parseCidr } from '../../../src/cli/compose/subnets.ts';

test('default: /27s from 10.213.0.0/16, distinct and aligned', () => {
  const s = allocateSubnets(['a', 'b', 'c'], { seed: 'shop' });
  for (const c of Object.values(s)) {
    assert.match(c, /^10\.213\.\d+\.\d+\/27$/);
    assert.equal(Number(c.split('/')[0]!.split('.')[3]) % 32, 0);
  }
  assert.equal(new Set(Object.values(s)).size, 3);
});

test('the same seed gives the same subnets; different projects start apart', () => {
  assert.deepEqual(allocateSubnets(['a', 'b'], { seed: 'shop' }), allocateSubnets(['a', 'b'], { seed: 'shop' }));
  assert.notDeepEqual(allocateSubnets(['a'], { seed: 'shop' }), allocateSubnets(['a'], { seed: 'blog' }));
});

test('taken subnets are skipped, including ones that only partly overlap', () => {
  // Blocks .0 .64 .128 .192: the /25 covers the first two, the /32 sits inside the last.
  const taken = ['10.0.0.0/25', '10.0.0.200/32', 'fd00::/64'];
  assert.deepEqual(allocateSubnets(['a'], { range: '10.0.0.0/24', prefix: 26, taken }), { a: '10.0.0.128/26' });
  assert.throws(() => allocateSubnets(['a', 'b'], { range: '10.0.0.0/24', prefix: 26, taken }), /no free \/26/);
  assert.ok(overlaps(parseCidr('10.0.0.192/26'), parseCidr('10.0.0.200/32')));
  assert.ok(!overlaps(parseCidr('10.0.0.128/26'), parseCidr('10.0.0.0/25')));
});

test('an exhausted range and bad input are usage errors that name the fix', () => {
  assert.throws(() => allocateSubnets(['a', 'b', 'c'], { range: '10.0.0.0/26', prefix: 27 }), /no free \/27 left in 10\.0\.0\.0\/26 for c-net/);
  assert.throws(() => allocateSubnets(['a'], { range: '10.0.0.0/26', prefix: 30 }), /between \/26 .* and \/29/);
  assert.throws(() => parseCidr('10.0.0/8'), /not an IPv4 CIDR/);
  assert.throws(() => parseCidr('300.0.0.0/8'), /not an IPv4 CIDR/);
});
