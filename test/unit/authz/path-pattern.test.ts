// Path patterns for authorization rules, and the normalization they see.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePathPattern, normalizePath } from '../../../src/proxy/authz/path-pattern.ts';

const cases: Array<[string, string, boolean]> = [
  ['/pay', '/pay', true],
  ['/pay', '/pay/', false],
  ['/pay', '/payx', false],
  ['/api/*', '/api/v1/items', true],
  ['/api/*', '/api', false],
  ['/api/*/items', '/api/v1/items', true],
  ['/api/*/items', '/api/v1/v2/items', false],
  ['/v1/**/health', '/v1/a/b/health', true],
  ['/v1/**/health', '/v2/a/health', false],
  ['*.json', '/a/b.json', false], // "*" does not cross "/"
  ['/**.json', '/a/b.json', true],
  ['*', '/anything', true],
  ['/a.b', '/aXb', false], // "." is literal
];

for (const [pattern, path, expected] of cases) {
  test(`${pattern} ${expected ? 'matches' : 'does not match'} ${path}`, () => {
    assert.equal(compilePathPattern(pattern)(path), expected);
  });
}

test('normalization drops the query and resolves dot segments', () => {
  assert.equal(normalizePath('/a/b?x=/admin'), '/a/b');
  assert.equal(normalizePath('/a/./b/../c'), '/a/c');
  assert.equal(normalizePath('/../../etc'), '/etc');
  assert.equal(normalizePath('/a/%2E%2E/admin'), '/admin');
  assert.equal(normalizePath('/a/b/'), '/a/b/');
  assert.equal(normalizePath('/a/b/..'), '/a/');
  assert.equal(normalizePath('/'), '/');
  assert.equal(normalizePath('x#frag'), '/x');
});
