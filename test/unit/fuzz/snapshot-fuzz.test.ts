// Fuzzing the snapshot schema: whatever arrives on the push channel,
// parseSnapshot answers with its own result — a snapshot with a hash, or
// issues that each name a path — and never throws. A proxy applies the same
// function, so this is also what a NACK is made of.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSnapshot } from '../../../src/shared/snapshot.ts';
import { FUZZ } from './fuzz-runs.ts';
import { mutated } from './mutate.ts';

/** A snapshot using most slots (policies, TLS, authz, TCP), valid as it stands. */
export const RICH_SNAPSHOT = {
  version: 3,
  node: { service: 'orders', project: 'shop' },
  listeners: [
    {
      name: 'out:8080',
      address: '127.0.0.1',
      port: 8080,
      direction: 'outbound',
      protocol: 'auto',
      timeouts: { requestMs: 5000 },
      routes: [
        {
          name: 'payments',
          match: { hosts: ['payments', '*.payments'], path: { prefix: '/api' }, methods: ['GET', 'POST'], headers: [{ name: 'x-canary', exact: '1' }] },
          destinations: [{ cluster: 'payments', weight: 90 }, { cluster: 'payments-v2', weight: 10 }],
          retries: { attempts: 2, on: ['connect-failure', '5xx'] },
          fault: { delay: { percent: 10, ms: 100 } },
          rateLimit: { requestsPerSecond: 100, burst: 10, key: 'source' },
          failover: { destinations: [{ cluster: 'payments-v2', weight: 1 }] },
        },
      ],
    },
    {
      name: 'in:8080',
      address: '0.0.0.0',
      port: 9080,
      direction: 'inbound',
      protocol: 'http',
      tls: { mode: 'strict' },
      authz: { mode: 'enforce', rules: [{ name: 'web-only', from: ['web'], methods: ['GET'], paths: ['/api/*'] }] },
      routes: [{ name: 'in:default', destinations: [{ cluster: 'app' }] }],
    },
    { name: 'db', address: '127.0.0.1', port: 5432, direction: 'outbound', protocol: 'tcp', tcp: { destinations: [{ cluster: 'db', weight: 1 }], service: 'db' } },
  ],
  clusters: [
    { name: 'payments', service: 'payments', endpoints: [{ address: '10.0.0.2', port: 8080 }], tls: { enabled: true }, outlierDetection: { consecutiveErrors: 5 }, healthCheck: { type: 'http', path: '/healthz' } },
    { name: 'payments-v2', service: 'payments', endpoints: [{ address: '10.0.0.3', port: 8080, healthy: false }] },
    { name: 'app', endpoints: [{ address: '127.0.0.1', port: 3000 }], lb: 'round_robin' },
    { name: 'db', protocol: 'tcp', endpoints: [{ address: '10.0.0.9', port: 5432 }] },
  ],
};

/** The one acceptable outcome shape: ok with a hash, or not ok with "path: reason" issues. */
function wellFormed(r: ReturnType<typeof parseSnapshot>): void {
  if (r.ok) {
    assert.match(r.snapshot.hash!, /^[0-9a-f]{16}$/);
    return;
  }
  assert.ok(r.issues.length > 0, 'a refusal lists at least one issue');
  for (const i of r.issues) assert.match(i, /^\S.*: .+/, `issue "${i}" names a path and a reason`);
  assert.equal(typeof r.error, 'string');
}

test('the rich snapshot used as a seed is itself valid', () => {
  const r = parseSnapshot(RICH_SNAPSHOT);
  assert.ok(r.ok, r.ok ? '' : r.error);
});

test('fuzz: parseSnapshot never throws on anything at all', () => {
  fc.assert(
    fc.property(fc.anything({ maxDepth: 4, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true }), (v) => {
      wellFormed(parseSnapshot(v));
    }),
    FUZZ,
  );
});

test('fuzz: parseSnapshot on a valid snapshot with 1-3 parts broken: a result or issues with paths, never a throw', () => {
  fc.assert(
    fc.property(mutated(RICH_SNAPSHOT), (v) => {
      wellFormed(parseSnapshot(v));
    }),
    FUZZ,
  );
});

test('fuzz: a snapshot that parses parses again to the same hash (what a proxy ACKs is stable)', () => {
  fc.assert(
    fc.property(mutated(RICH_SNAPSHOT), (v) => {
      const r = parseSnapshot(v);
      if (!r.ok) return;
      const again = parseSnapshot(JSON.parse(JSON.stringify(r.snapshot)));
      assert.ok(again.ok, again.ok ? '' : again.error);
      assert.equal(again.snapshot.hash, r.snapshot.hash);
    }),
    FUZZ,
  );
});
