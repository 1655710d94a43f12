import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCerts } from '../../../src/cli/commands/certs.ts';

test('meshctl certs table: identity, serial, expiry, time left, issuer; expired leaves say so', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const out = formatCerts(
    {
      trustDomain: 'mesh.local',
      roots: [{ serial: 'aa'.repeat(16), subject: 'CN=meshctl root shop', notBefore: '2025-01-01T00:00:00.000Z', notAfter: '2035-01-01T00:00:00.000Z', active: true }],
      services: [
        { service: 'orders', spiffeId: 'spiffe://mesh.local/compose/shop/svc/orders', serial: '0123456789abcdef0123', notBefore: '2025-12-31T23:55:00.000Z', notAfter: '2026-01-01T16:30:00.000Z', issuer: 'CN=meshctl root shop' },
        { service: 'payments', spiffeId: 'spiffe://mesh.local/compose/shop/svc/payments', serial: 'ff', notBefore: '2025-12-30T00:00:00.000Z', notAfter: '2025-12-31T00:00:00.000Z', issuer: 'CN=meshctl root shop' },
      ],
    },
    now,
  );
  assert.match(out, /orders\s+spiffe:\/\/mesh\.local\/compose\/shop\/svc\/orders\s+0123456789abcdef\s+2026-01-01T16:30:00.000Z\s+16h30m\s+CN=meshctl root shop/);
  assert.match(out, /payments .* EXPIRED/);
  assert.match(out, /active\s+CN=meshctl root shop/);
});
