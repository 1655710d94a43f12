// The normal form both composes read: what v2's `config` spells out that v1
// rejects is folded back (default `required: true`, long binds with create_host_path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { foldBind, normaliseService } from '../../../src/cli/compose/normalise-service.ts';

test('v2 depends_on: the default required: true goes, required: false and the condition stay', () => {
  const svc = normaliseService({ depends_on: { db: { condition: 'service_healthy', required: true }, cache: { condition: 'service_started', required: false } } });
  assert.deepEqual(svc.depends_on, { db: { condition: 'service_healthy' }, cache: { condition: 'service_started', required: false } });
  assert.deepEqual(normaliseService({ depends_on: ['db'] }).depends_on, { db: { condition: 'service_started' } });
});

test('v2 long binds with create_host_path fold back to the short form; anything else stays long', () => {
  const long = (extra: object = {}, bind: object = {}) => ({ type: 'bind', source: '/p/data', target: '/data', bind: { create_host_path: true, ...bind }, ...extra });
  assert.equal(foldBind(long()), '/p/data:/data');
  assert.equal(foldBind(long({ read_only: true })), '/p/data:/data:ro');
  assert.equal(foldBind(long({ read_only: true }, { selinux: 'z' })), '/p/data:/data:ro,z');
  assert.equal(foldBind(long({}, { propagation: 'rslave' })), '/p/data:/data:rslave');
  // Without create_host_path a long bind fails on a missing host path: not the short form's meaning.
  const strict = { type: 'bind', source: '/p/data', target: '/data' };
  assert.deepEqual(foldBind(strict), strict);
  for (const v of [long({ consistency: 'cached' }), long({}, { recursive: 'enabled' }), long({ source: '/p/a:b' }), { type: 'volume', source: 'db', target: '/var/lib/db' }, 'db:/var/lib/db']) {
    assert.deepEqual(foldBind(v), v);
  }
  assert.deepEqual(normaliseService({ volumes: [long(), 'db:/db'] }).volumes, ['/p/data:/data', 'db:/db']);
});
