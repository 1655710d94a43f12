// Authorization: Istio's order (deny, then allow, then default deny when
// allow rules exist), audit mode, HTTP and TCP, and the matchers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileAuthz, type AuthzRequest } from '../../../src/proxy/authz/compile-authz.ts';
import { AuthzPolicy } from '../../../src/shared/policies.ts';

const from = (service: string) => ({ service, spiffeId: `spiffe://mesh.local/compose/shop/svc/${service}` });
const http = (service: string | undefined, method: string, path: string, headers: Record<string, string | string[]> = {}, port = 8080): AuthzRequest => ({
  source: service ? from(service) : undefined,
  port,
  http: { method, path, headers },
});
const tcp = (service: string | undefined, port: number): AuthzRequest => ({ source: service ? from(service) : undefined, port });

const shop = AuthzPolicy.parse({
  rules: [
    { name: 'no-admin', action: 'deny', paths: ['/admin*'] },
    { name: 'orders-pay', from: ['orders'], methods: ['POST'], paths: ['/pay', '/refunds/*'] },
    { name: 'anyone-reads', from: ['*'], methods: ['GET', 'HEAD'], paths: ['/api/*/items', '/health'] },
    { name: 'db-port', from: ['billing'], ports: [5432] },
  ],
});

test('no policy, or no rules: everything is allowed', () => {
  assert.deepEqual(compileAuthz(undefined)(http(undefined, 'DELETE', '/x')), { allowed: true, audited: false });
  assert.deepEqual(compileAuthz({ rules: [] })(tcp(undefined, 1)), { allowed: true, audited: false });
});

test('HTTP allow: a matching allow rule names itself', () => {
  const authz = compileAuthz(shop);
  assert.deepEqual(authz(http('orders', 'POST', '/pay')), { allowed: true, rule: 'orders-pay', audited: false });
  assert.deepEqual(authz(http('orders', 'post', '/refunds/42')), { allowed: true, rule: 'orders-pay', audited: false });
  assert.deepEqual(authz(http('reviews', 'GET', '/api/v1/items?page=2')), { allowed: true, rule: 'anyone-reads', audited: false });
});

test('HTTP default deny: once allow rules exist, anything unmatched is denied', () => {
  const authz = compileAuthz(shop);
  assert.deepEqual(authz(http('reviews', 'POST', '/pay')), { allowed: false, rule: 'default-deny', audited: false });
  assert.deepEqual(authz(http('orders', 'GET', '/pay')), { allowed: false, rule: 'default-deny', audited: false }, 'method must match too');
  assert.deepEqual(authz(http('reviews', 'GET', '/api/v1/v2/items')), { allowed: false, rule: 'default-deny', audited: false });
  // No verified identity (plaintext, permissive mode) matches no "from", not even "*".
  assert.deepEqual(authz(http(undefined, 'GET', '/health')), { allowed: false, rule: 'default-deny', audited: false });
});

test('HTTP deny: deny rules win over allow rules, and dot segments do not get around them', () => {
  const authz = compileAuthz(shop);
  assert.deepEqual(authz(http('orders', 'GET', '/admin/users')), { allowed: false, rule: 'no-admin', audited: false });
  assert.deepEqual(authz(http('orders', 'GET', '/health/../admin/users')), { allowed: false, rule: 'no-admin', audited: false });
  assert.deepEqual(authz(http('orders', 'GET', '/health/%2e%2e/admin')), { allowed: false, rule: 'no-admin', audited: false });
  const denyOnly = compileAuthz({ rules: [{ name: 'block-reviews', action: 'deny', from: ['reviews'] }] });
  assert.equal(denyOnly(http('reviews', 'GET', '/')).allowed, false);
  assert.deepEqual(denyOnly(http('orders', 'GET', '/')), { allowed: true, audited: false }, 'deny rules alone keep the default allow');
});

test('audit mode reports what would be denied and lets it through', () => {
  const authz = compileAuthz({ ...shop, mode: 'audit' });
  assert.deepEqual(authz(http('orders', 'GET', '/admin')), { allowed: true, rule: 'no-admin', audited: true });
  assert.deepEqual(authz(http('reviews', 'POST', '/pay')), { allowed: true, rule: 'default-deny', audited: true });
  assert.deepEqual(authz(http('orders', 'POST', '/pay')), { allowed: true, rule: 'orders-pay', audited: false });
  // TCP meets the HTTP-only deny rule, which then denies all TCP (see below).
  assert.deepEqual(authz(tcp('billing', 5432)), { allowed: true, rule: 'no-admin', audited: true });
});

test('TCP: only identity and port apply', () => {
  const authz = compileAuthz({ rules: shop.rules.filter((r) => r.name !== 'no-admin') });
  assert.deepEqual(authz(tcp('billing', 5432)), { allowed: true, rule: 'db-port', audited: false });
  assert.deepEqual(authz(tcp('billing', 5433)), { allowed: false, rule: 'default-deny', audited: false });
  assert.deepEqual(authz(tcp('reviews', 5432)), { allowed: false, rule: 'default-deny', audited: false });
  assert.deepEqual(authz(tcp(undefined, 5432)), { allowed: false, rule: 'default-deny', audited: false });
  // "orders-pay" has methods and paths: as an allow rule it can never match TCP.
  assert.deepEqual(authz(tcp('orders', 8080)), { allowed: false, rule: 'default-deny', audited: false });
  // With the path-only deny rule, its path is ignored for TCP and it denies all TCP.
  assert.deepEqual(compileAuthz(shop)(tcp('billing', 5432)), { allowed: false, rule: 'no-admin', audited: false });
  const tcpOnly = compileAuthz({
    rules: [
      { name: 'deny-get-from-reviews', action: 'deny', from: ['reviews'], methods: ['GET'] },
      { name: 'orders-http-only', from: ['orders'], methods: ['GET'] },
      { name: 'orders-5432', from: ['orders'], ports: [5432] },
    ],
  });
  // A deny rule's HTTP-only conditions are dropped for TCP, so it denies more (fail closed).
  assert.deepEqual(tcpOnly(tcp('reviews', 5432)), { allowed: false, rule: 'deny-get-from-reviews', audited: false });
  assert.deepEqual(tcpOnly(tcp('orders', 5432)), { allowed: true, rule: 'orders-5432', audited: false });
  assert.deepEqual(tcpOnly(tcp('orders', 9000)), { allowed: false, rule: 'default-deny', audited: false });
});

test('headers: exact, prefix, suffix, presence; names are case-insensitive; all must match', () => {
  const authz = compileAuthz({
    rules: [
      {
        name: 'canary-clients',
        from: ['orders'],
        headers: [
          { name: 'X-Env', value: 'canary' },
          { name: 'user-agent', value: 'shop/*' },
        ],
      },
      { name: 'json', headers: [{ name: 'content-type', value: '*json' }], from: ['reviews'] },
      { name: 'traced', headers: [{ name: 'traceparent', value: '*' }], from: ['billing'] },
    ],
  });
  assert.equal(authz(http('orders', 'GET', '/', { 'x-env': 'canary', 'user-agent': 'shop/1.2' })).rule, 'canary-clients');
  assert.equal(authz(http('orders', 'GET', '/', { 'x-env': ['prod', 'canary'], 'user-agent': 'shop/1.2' })).allowed, true);
  assert.equal(authz(http('orders', 'GET', '/', { 'x-env': 'canary' })).allowed, false, 'every header must match');
  assert.equal(authz(http('orders', 'GET', '/', { 'x-env': 'canary', 'user-agent': 'curl/8' })).allowed, false);
  assert.equal(authz(http('reviews', 'GET', '/', { 'content-type': 'application/json' })).rule, 'json');
  assert.equal(authz(http('billing', 'GET', '/', { traceparent: '00-abc' })).rule, 'traced');
  assert.equal(authz(http('billing', 'GET', '/', {})).allowed, false);
});

test('a header cannot claim an identity: only the verified source counts', () => {
  const authz = compileAuthz({ rules: [{ name: 'orders-only', from: ['orders'] }] });
  const spoof = http('reviews', 'GET', '/', { 'x-mesh-source': 'orders', 'x-forwarded-client-cert': 'URI=spiffe://mesh.local/compose/shop/svc/orders' });
  assert.deepEqual(authz(spoof), { allowed: false, rule: 'default-deny', audited: false });
  // A rule may also name the full SPIFFE id.
  const byId = compileAuthz({ rules: [{ name: 'by-id', from: ['spiffe://mesh.local/compose/shop/svc/orders'] }] });
  assert.equal(byId(http('orders', 'GET', '/')).allowed, true);
  assert.equal(byId(http('reviews', 'GET', '/')).allowed, false);
});
