// `meshctl certs` during a root rotation: each root's state and what the rotation waits for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCerts } from '../../../src/cli/commands/certs.ts';

test('meshctl certs names the next root and the proxies a root rotation waits for', () => {
  const root = (serial: string, state: 'active' | 'next') => ({ serial, subject: `CN=root ${serial}`, notBefore: '2025-01-01T00:00:00.000Z', notAfter: '2035-01-01T00:00:00.000Z', active: state === 'active', state });
  const out = formatCerts(
    {
      trustDomain: 'mesh.local',
      roots: [root('aa', 'active'), root('bb', 'next')],
      services: [],
      leafGeneration: 2,
      rotation: { phase: 'trusting', waitingFor: [{ proxyId: 'web-mesh', service: 'web', reason: 'has not acknowledged snapshot version 7 (carries the new root)' }] },
    },
    Date.parse('2026-01-01T00:00:00Z'),
  );
  assert.match(out, /active\s+CN=root aa/);
  assert.match(out, /next\s+CN=root bb/);
  assert.match(out, /root rotation: trusting, waiting for web-mesh \(has not acknowledged snapshot version 7/);
});
