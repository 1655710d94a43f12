import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHosts, compilePath, compileHeaders } from '../../../src/proxy/routing/compile-matchers.ts';
import { normalizeHost } from '../../../src/proxy/routing/route-table.ts';
import { WeightedPicker } from '../../../src/proxy/routing/weighted-picker.ts';
import { HeaderMatch } from '../../../src/shared/snapshot.ts';

test('normalizeHost strips ports, brackets and case', () => {
  assert.equal(normalizeHost('Payments:8080'), 'payments');
  assert.equal(normalizeHost('[::1]:80'), '::1');
  assert.equal(normalizeHost(undefined), '');
});

test('host matchers: exact, wildcard subdomain, any', () => {
  const m = compileHosts(['api', '*.shop'])!;
  assert.ok(m('api'));
  assert.ok(m('cart.shop'));
  assert.ok(m('a.b.shop'));
  assert.ok(!m('shop'));
  assert.ok(!m('apix'));
  assert.equal(compileHosts(['*']), undefined);
});

test('path matchers: exact, prefix, anchored regex', () => {
  assert.ok(compilePath({ exact: '/a' })!('/a'));
  assert.ok(!compilePath({ exact: '/a' })!('/a/'));
  assert.ok(compilePath({ prefix: '/a/' })!('/a/b'));
  assert.ok(compilePath({ regex: '/u/[0-9]+' })!('/u/12'));
  assert.ok(!compilePath({ regex: '/u/[0-9]+' })!('/u/12/x'));
  assert.throws(() => compilePath({ regex: '([' }));
});

test('header matchers: exact, prefix, regex, presence, absence, invert', () => {
  const h = (o: object) => compileHeaders([HeaderMatch.parse(o)])!;
  assert.ok(h({ name: 'X-A', exact: '1' })({ 'x-a': '1' }));
  assert.ok(!h({ name: 'x-a', exact: '1' })({ 'x-a': '2' }));
  assert.ok(h({ name: 'x-a', prefix: 'ab' })({ 'x-a': 'abc' }));
  assert.ok(h({ name: 'x-a', regex: 'v[12]' })({ 'x-a': 'v2' }));
  assert.ok(h({ name: 'x-a' })({ 'x-a': '' }));
  assert.ok(!h({ name: 'x-a' })({}));
  assert.ok(h({ name: 'x-a', present: false })({}));
  assert.ok(h({ name: 'x-a', exact: '1', invert: true })({ 'x-a': '2' }));
});

test('weighted picker skips zero weights and follows proportions', () => {
  const p = new WeightedPicker(['a', 'b', 'c'], [3, 0, 1]);
  const n: Record<string, number> = {};
  for (let i = 0; i < 4000; i++) {
    const x = p.pick()!;
    n[x] = (n[x] ?? 0) + 1;
  }
  assert.equal(n.b, undefined);
  assert.ok(n.a! > 2700 && n.a! < 3300, JSON.stringify(n));
  assert.equal(new WeightedPicker(['a'], [0]).pick(), undefined);
});
