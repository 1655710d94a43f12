// GET /v1/certs after a controller restart: the issued index (serial, service,
// proxy id, validity, issuer) lives in <state>/ca/issued.json (0600, no key),
// so a restarted controller process lists every proxy's leaf before any renews.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { controllerProcess } from '../../harness/controller-process.ts';
import { eventually } from '../../harness/eventually.ts';
import { api, tempDir, TOKEN, writeWorkloads } from '../../harness/controller-harness.ts';
import { freePort } from '../../../src/cli/up/host-ports.ts';
import { identityFromController } from '../../../src/proxy/identity/controller-signer.ts';

test('a restarted controller lists the leaves it issued before, per proxy', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'mesh.config.json'), '{}');
  writeWorkloads(join(dir, 'workloads.json'), []);
  const first = await controllerProcess(t, dir, await freePort('127.0.0.1'));
  const held = new Map<string, string>();
  for (const [service, proxyId] of [['web', 'web-mesh-1'], ['web', 'web-mesh-2'], ['product', 'product-mesh']] as const) {
    const id = await identityFromController({ url: first.url, bearer: TOKEN, service, proxyId, timeoutMs: 10_000 });
    t.after(() => id.close());
    held.set(proxyId, id.current().serial);
  }
  const before = (await api(first.url, 'GET', '/v1/certs')).body;
  assert.equal(before.leaves.length, 3);

  const file = join(dir, 'state', 'ca', 'issued.json');
  await eventually(() => {
    const text = readFileSync(file, 'utf8');
    for (const serial of held.values()) assert.ok(text.includes(serial), 'written to disk');
  });
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.doesNotMatch(readFileSync(file, 'utf8'), /PRIVATE KEY|BEGIN/);

  // Killed, not stopped: nothing gets a chance to write on the way out.
  first.child.kill('SIGKILL');
  await once(first.child, 'exit');
  const second = await controllerProcess(t, dir, await freePort('127.0.0.1'));
  const after = (await api(second.url, 'GET', '/v1/certs')).body;
  assert.deepEqual(
    after.leaves.map((l: { proxyId: string; serial: string }) => [l.proxyId, l.serial]),
    ['product-mesh', 'web-mesh-1', 'web-mesh-2'].map((p) => [p, held.get(p)]),
  );
  assert.deepEqual(after.services.map((s: { service: string; serial: string }) => [s.service, s.serial]), [
    ['product', held.get('product-mesh')],
    ['web', held.get('web-mesh-2')],
  ]);
  assert.deepEqual(after.roots, before.roots);
  for (const l of after.leaves) assert.equal(l.issuer, before.roots[0].subject);
});
