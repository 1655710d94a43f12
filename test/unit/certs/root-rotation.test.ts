// Root rotation in steps (next root trusted, then signing, then the old one
// retired), driven by RootRotation from the proxies' ACKs and the CA's issued
// index; the issued index and leaf generation persisted across a reopen; a
// workload renewing once when asked for a newer generation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { CertAuthority } from '../../../src/controller/certs/cert-authority.ts';
import { RootRotation, type RotationProxy } from '../../../src/controller/certs/root-rotation.ts';
import { createKeyAndCsr } from '../../../src/proxy/identity/create-key-and-csr.ts';
import { WorkloadIdentity } from '../../../src/proxy/identity/workload-identity.ts';

async function stateDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-rot-unit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function leafFor(ca: CertAuthority, service: string, proxyId?: string) {
  return ca.sign({ csrPem: (await createKeyAndCsr(service)).csrPem, service, ...(proxyId ? { proxyId } : {}) });
}

test('the next root is trusted before it signs, survives a reopen, then signs; retiring leaves one root', async (t) => {
  const dir = await stateDir(t);
  const ca = await CertAuthority.open({ stateDir: dir, project: 'shop' });
  const oldSubject = ca.activeRootSubject;
  let changes = 0;
  ca.onChange(() => changes++);

  await ca.prepareNextRoot();
  assert.equal(changes, 1);
  assert.deepEqual(ca.roots().map((r) => r.state), ['active', 'next']);
  assert.equal((await stat(join(dir, 'ca', 'next-root.key.pem'))).mode & 0o777, 0o600);
  // Still the old root signs: nobody may present a leaf from a root not everyone trusts yet.
  assert.equal(new X509Certificate((await leafFor(ca, 'orders')).certChainPem).issuer.replace(/\n/g, ', '), oldSubject);
  await assert.rejects(ca.prepareNextRoot(), { code: 'MESH_ERR_CONFLICT' });

  const reopened = await CertAuthority.open({ stateDir: dir, project: 'shop' });
  assert.equal(reopened.hasNextRoot, true);
  assert.equal(reopened.trustBundlePem(), ca.trustBundlePem());

  await reopened.activateNextRoot();
  assert.deepEqual(reopened.roots().map((r) => r.state), ['active', 'previous']);
  assert.notEqual(reopened.activeRootSubject, oldSubject);
  const res = await leafFor(reopened, 'orders');
  assert.equal(new X509Certificate(res.certChainPem).issuer.replace(/\n/g, ', '), reopened.activeRootSubject);
  assert.equal(reopened.hasNextRoot, false);
  await assert.rejects(stat(join(dir, 'ca', 'next-root.key.pem')), { code: 'ENOENT' });

  await reopened.retirePreviousRoots();
  assert.equal(reopened.roots().length, 1);
  assert.equal((await CertAuthority.open({ stateDir: dir, project: 'shop' })).roots().length, 1);
});

test('the issued index (per proxy, with generation) and the leaf generation survive a reopen; no key in it; mode 0600', async (t) => {
  const dir = await stateDir(t);
  const ca = await CertAuthority.open({ stateDir: dir, project: 'shop' });
  const a = await leafFor(ca, 'orders', 'orders-mesh-1');
  const b = await leafFor(ca, 'orders', 'orders-mesh-2');
  assert.equal(a.generation, 0);
  assert.equal(await ca.bumpLeafGeneration(), 1);
  const c = await leafFor(ca, 'payments', 'payments-mesh');
  assert.equal(c.generation, 1);

  const file = join(dir, 'ca', 'issued.json');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.doesNotMatch(await readFile(file, 'utf8'), /PRIVATE KEY|BEGIN/);

  const reopened = await CertAuthority.open({ stateDir: dir, project: 'shop' });
  assert.equal(reopened.leafGeneration, 1);
  assert.deepEqual(reopened.leaves().map((l) => [l.service, l.proxyId, l.serial, l.generation]), [
    ['orders', 'orders-mesh-1', a.serial, 0],
    ['orders', 'orders-mesh-2', b.serial, 0],
    ['payments', 'payments-mesh', c.serial, 1],
  ]);
  assert.deepEqual(reopened.issued().map((l) => [l.service, l.serial]), [['orders', b.serial], ['payments', c.serial]]);
});

test('RootRotation waits for every proxy to ACK the new bundle, then for every proxy to renew from the new root', async (t) => {
  const dir = await stateDir(t);
  const ca = await CertAuthority.open({ stateDir: dir, project: 'shop' });
  await leafFor(ca, 'orders', 'orders-mesh');
  await leafFor(ca, 'payments', 'payments-mesh');
  // Stands in for the push hub: every CA change is a rebuild that bumps each desired version.
  let version = 1;
  const acked = new Map<string, number>([['orders-mesh', 1], ['payments-mesh', 1]]);
  const proxies = (): RotationProxy[] =>
    [...acked].map(([proxyId, v]) => ({ proxyId, service: proxyId.split('-')[0]!, desired: { version }, ack: { ok: true, version: v } }));
  ca.onChange(() => version++);
  const rotation = new RootRotation(ca, { proxies, settleMs: 0, checkMs: 60_000 });
  t.after(() => rotation.close());
  const oldSubject = ca.activeRootSubject;

  const s = await rotation.begin();
  assert.equal(s.phase, 'trusting');
  assert.deepEqual(s.waitingFor.map((w) => w.proxyId), ['orders-mesh', 'payments-mesh']);
  await assert.rejects(rotation.begin(), { code: 'MESH_ERR_CONFLICT' });
  acked.set('orders-mesh', version);
  await rotation.check();
  assert.deepEqual(rotation.status().waitingFor.map((w) => w.proxyId), ['payments-mesh']);
  assert.equal(ca.activeRootSubject, oldSubject, 'the old root signs while a proxy lacks the new one');

  acked.set('payments-mesh', version);
  await rotation.check();
  assert.equal(rotation.status().phase, 'renewing');
  assert.notEqual(ca.activeRootSubject, oldSubject);
  assert.equal(ca.leafGeneration, 1, 'activation asks every proxy to renew');
  assert.deepEqual(rotation.status().waitingFor.map((w) => [w.proxyId, /old root/.test(w.reason)]), [['orders-mesh', true], ['payments-mesh', true]]);

  await leafFor(ca, 'orders', 'orders-mesh');
  await rotation.check();
  assert.deepEqual(rotation.status().waitingFor.map((w) => w.proxyId), ['payments-mesh']);
  assert.equal(ca.roots().length, 2, 'the old root stays while one proxy holds a leaf from it');
  // A Docker sidecar signs with its short hostname; the hub knows the long container id.
  acked.delete('payments-mesh');
  acked.set('payments-mesh-0123456789abcdef', version);
  await leafFor(ca, 'payments', 'payments-mesh-0123');
  await rotation.check();
  assert.equal(rotation.status().phase, 'idle');
  assert.equal(ca.roots().length, 1);
});

test('finish() ends a rotation at once, from either phase', async (t) => {
  const ca = await CertAuthority.open({ stateDir: await stateDir(t), project: 'shop' });
  const rotation = new RootRotation(ca, { proxies: () => [{ proxyId: 'x', service: 'x', desired: { version: 1 } }], checkMs: 60_000 });
  t.after(() => rotation.close());
  const old = ca.activeRootSubject;
  assert.equal((await rotation.begin()).phase, 'trusting');
  assert.equal((await rotation.finish()).phase, 'idle');
  assert.notEqual(ca.activeRootSubject, old);
  assert.equal(ca.roots().length, 1);
  assert.equal(ca.leafGeneration, 1);
});

test('a workload renews once when a snapshot asks for a newer leaf generation', async (t) => {
  const ca = await CertAuthority.open({ stateDir: await stateDir(t), project: 'shop' });
  const signs: string[] = [];
  const id = await WorkloadIdentity.start({ service: 'orders', proxyId: 'orders-mesh', signer: (r) => (signs.push(r.proxyId ?? '?'), ca.sign(r)) });
  t.after(() => id.close());
  const first = id.current().serial;
  id.renewIfOlderThan(0);
  assert.equal(signs.length, 1, 'same generation: nothing to do');
  await ca.bumpLeafGeneration();
  const rotated = new Promise((r) => id.onRotate(r));
  id.renewIfOlderThan(1);
  id.renewIfOlderThan(1);
  await rotated;
  assert.notEqual(id.current().serial, first);
  assert.equal(id.current().generation, 1);
  assert.deepEqual(signs, ['orders-mesh', 'orders-mesh']);
  assert.equal(ca.leaves()[0]!.proxyId, 'orders-mesh');
});

test('activating the next root reorders the bundle; a workload holding the same roots is not rotated for it', async (t) => {
  const ca = await CertAuthority.open({ stateDir: await stateDir(t), project: 'shop' });
  const id = await WorkloadIdentity.start({ service: 'orders', signer: (r) => ca.sign(r) });
  t.after(() => id.close());
  await ca.prepareNextRoot();
  let rotations = 0;
  id.onRotate(() => rotations++);
  id.updateTrustBundle(ca.trustBundlePem());
  assert.equal(rotations, 1);
  const before = ca.trustBundlePem();
  await ca.activateNextRoot();
  assert.notEqual(ca.trustBundlePem(), before, 'the active root comes first');
  id.updateTrustBundle(ca.trustBundlePem());
  assert.equal(rotations, 1, 'same two roots: no new contexts, no recycled sessions');
});
