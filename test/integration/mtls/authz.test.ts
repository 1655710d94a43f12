// Authorization in the request path, for HTTP and opaque TCP through a real
// mTLS pair: allow, deny, audit and default-deny, each decided on the
// caller's certificate identity and counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { eventually } from '../../harness/eventually.ts';
import { meshPair, metricValue } from './mtls-harness.ts';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; error?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers: { host: 'payments' }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, error: res.headers['x-mesh-error'] as string | undefined, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a TCP connection through the caller and reports whether the app answered. */
function tcpExchange(port: number): Promise<'answered' | 'closed'> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('ping'));
    s.on('data', () => {
      s.destroy();
      resolve('answered');
    });
    s.on('error', () => {});
    s.on('close', () => resolve('closed'));
  });
}

test('HTTP allow: a rule for the caller and path lets it through, other paths hit default-deny', async (t) => {
  const { caller, callee } = await meshPair(t, { authz: { rules: [{ name: 'orders-pay', from: ['orders'], paths: ['/pay*'] }] } });
  assert.equal((await get(caller.port('out'), '/pay/1')).status, 200);
  const denied = await get(caller.port('out'), '/admin');
  assert.equal(denied.status, 403);
  assert.equal(denied.error, 'rbac-denied default-deny');
  const m = await callee.metrics();
  assert.equal(metricValue(m, 'mesh_authz_decisions_total', { kind: 'http', decision: 'allowed', rule: 'orders-pay' }), 1);
  assert.equal(metricValue(m, 'mesh_authz_decisions_total', { kind: 'http', decision: 'denied', rule: 'default-deny' }), 1);
});

test('HTTP deny: a deny rule names itself in x-mesh-error', async (t) => {
  const { caller, callee, app } = await meshPair(t, { authz: { rules: [{ name: 'no-delete', action: 'deny', from: ['orders'], methods: ['DELETE'] }] } });
  const r = await get(caller.port('out'), '/pay/1', 'DELETE');
  assert.equal(r.status, 403);
  assert.equal(r.error, 'rbac-denied no-delete');
  assert.equal((await get(caller.port('out'), '/pay/1')).status, 200); // no allow rules: the rest is allowed
  assert.equal(app!.seen.length, 1);
  assert.equal(metricValue(await callee.metrics(), 'mesh_authz_decisions_total', { decision: 'denied', rule: 'no-delete' }), 1);
});

test('HTTP audit: what would be denied passes, is counted and logged', async (t) => {
  const { caller, callee } = await meshPair(t, { authz: { mode: 'audit', rules: [{ name: 'only-billing', from: ['billing'] }] } });
  assert.equal((await get(caller.port('out'), '/pay')).status, 200);
  assert.equal(metricValue(await callee.metrics(), 'mesh_authz_decisions_total', { decision: 'audit_denied', rule: 'default-deny' }), 1);
  await eventually(() => assert.equal(callee.logs().find((l) => l.kind === 'http')?.authz, 'would deny: default-deny'));
});

test('HTTP default-deny: allow rules for someone else deny the caller', async (t) => {
  const { caller, app } = await meshPair(t, { authz: { rules: [{ name: 'billing-only', from: ['billing'] }] } });
  const r = await get(caller.port('out'), '/pay');
  assert.equal(r.status, 403);
  assert.equal(r.error, 'rbac-denied default-deny');
  assert.equal(app!.seen.length, 0);
});

test('TCP allow and default-deny', async (t) => {
  const allowed = await meshPair(t, { protocol: 'tcp', authz: { rules: [{ name: 'orders', from: ['orders'] }] } });
  assert.equal(await tcpExchange(allowed.caller.port('out')), 'answered');
  const denied = await meshPair(t, { protocol: 'tcp', authz: { rules: [{ name: 'billing', from: ['billing'] }] } });
  assert.equal(await tcpExchange(denied.caller.port('out')), 'closed');
  await eventually(async () => {
    assert.equal(metricValue(await allowed.callee.metrics(), 'mesh_authz_decisions_total', { kind: 'tcp', decision: 'allowed', rule: 'orders' }), 1);
    assert.equal(metricValue(await denied.callee.metrics(), 'mesh_authz_decisions_total', { kind: 'tcp', decision: 'denied', rule: 'default-deny' }), 1);
  });
});

test('TCP deny and audit', async (t) => {
  const deny = await meshPair(t, { protocol: 'tcp', authz: { rules: [{ name: 'no-orders', action: 'deny', from: ['orders'] }] } });
  assert.equal(await tcpExchange(deny.caller.port('out')), 'closed');
  const audit = await meshPair(t, { protocol: 'tcp', authz: { mode: 'audit', rules: [{ name: 'no-orders', action: 'deny', from: ['orders'] }] } });
  assert.equal(await tcpExchange(audit.caller.port('out')), 'answered');
  await eventually(async () => {
    assert.equal(metricValue(await deny.callee.metrics(), 'mesh_authz_decisions_total', { kind: 'tcp', decision: 'denied', rule: 'no-orders' }), 1);
    assert.equal(metricValue(await audit.callee.metrics(), 'mesh_authz_decisions_total', { kind: 'tcp', decision: 'audit_denied', rule: 'no-orders' }), 1);
  });
});
