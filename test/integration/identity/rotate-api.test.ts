// Rotations a user triggers, on a running mesh under steady load, with real
// sidecars that learn everything over the push channel: `meshctl certs
// rotate-root` (new root trusted, then signing, every proxy renews, old root
// dropped) and `meshctl certs rotate` (every leaf renewed now). No request fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { api, TOKEN } from '../../harness/controller-harness.ts';
import { eventually } from '../../harness/eventually.ts';
import { controlledMesh, loadLoop } from './controlled-mesh.ts';

const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const run = promisify(execFile);

const certsOf = (bundle: string) => bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

test('root rotation under load: both roots trusted during the overlap, every proxy renews, the old root goes, no request fails', async (t) => {
  const { ctl, port, proxies, pushChannel } = await controlledMesh(t);
  const before = (await api(ctl.url, 'GET', '/v1/certs')).body;
  assert.equal(before.roots.length, 1);
  const oldRoot = before.roots[0];
  const load = loadLoop(port);
  t.after(() => load.stop());
  await load.more(50);

  // web's push channel is down when the rotation starts: it cannot learn the new root yet.
  await pushChannel('web', false);
  const started = await api(ctl.url, 'POST', '/v1/certs/rotate', { scope: 'root' });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  assert.equal(started.body.rotation.phase, 'trusting');
  const again = await api(ctl.url, 'POST', '/v1/certs/rotate', { scope: 'root' });
  assert.equal(again.status, 409, 'one rotation at a time');

  // product learns the new root through its snapshot; the old root keeps signing while web lacks it.
  const [web, product] = proxies;
  await eventually(() => assert.equal(certsOf(product!.identity.current().trustBundlePem).length, 2));
  await load.more(50);
  // The controller counts product as done once its ACK arrives, a moment after product has the bundle;
  // web stays waited for (and the phase stays 'trusting') for as long as its channel is down.
  await eventually(async () => {
    const waiting = (await api(ctl.url, 'GET', '/v1/certs')).body;
    assert.equal(waiting.rotation.phase, 'trusting');
    assert.deepEqual(waiting.rotation.waitingFor.map((w: { proxyId: string }) => w.proxyId), ['web-mesh']);
  });
  assert.equal(new X509Certificate(product!.identity.current().certChainPem).issuer.replace(/\n/g, ', '), oldRoot.subject, 'no leaf from a root web does not trust');
  assert.equal(certsOf(web!.identity.current().trustBundlePem).length, 1);

  await pushChannel('web', true);

  const done = await eventually(async () => {
    const c = (await api(ctl.url, 'GET', '/v1/certs')).body;
    assert.equal(c.rotation.phase, 'idle', JSON.stringify(c.rotation));
    return c;
  }, { timeoutMs: 30_000 });
  assert.equal(done.roots.length, 1);
  assert.notEqual(done.roots[0].serial, oldRoot.serial);
  const newRootSubject = done.roots[0].subject;
  await eventually(() => {
    for (const p of proxies) {
      const m = p.identity.current();
      assert.equal(certsOf(m.trustBundlePem).length, 1, `${p.service} dropped the old root`);
      assert.equal(new X509Certificate(m.certChainPem).issuer.replace(/\n/g, ', '), newRootSubject, `${p.service} holds a leaf from the new root`);
    }
  });
  for (const p of proxies) {
    const row = done.leaves.find((l: { proxyId?: string }) => l.proxyId === p.proxyId);
    assert.equal(row.issuer, newRootSubject);
  }

  await load.more(100);
  await load.stop();
  assert.deepEqual(load.failures, []);
});

test('meshctl certs rotate --wait: every proxy renews its leaf at once under load; no request fails', async (t) => {
  const { ctl, port, proxies } = await controlledMesh(t);
  const serials = new Map(proxies.map((p) => [p.service, p.identity.current().serial]));
  const load = loadLoop(port);
  t.after(() => load.stop());
  await load.more(50);

  const { stdout } = await run(process.execPath, [main, 'certs', 'rotate', '--wait', '--timeout', '30s', '--json', '--controller', ctl.url, '--token', TOKEN]);
  const out = JSON.parse(stdout);
  assert.equal(out.scope, 'leaves');
  assert.equal(out.leafGeneration, 1);
  for (const p of proxies) {
    await eventually(() => assert.equal(p.identity.current().generation, 1));
    assert.notEqual(p.identity.current().serial, serials.get(p.service), `${p.service} has a new leaf`);
  }
  const certs = (await api(ctl.url, 'GET', '/v1/certs')).body;
  assert.equal(certs.leafGeneration, 1);
  assert.deepEqual(certs.leaves.map((l: { proxyId: string; generation: number }) => [l.proxyId, l.generation]), [['product-mesh', 1], ['web-mesh', 1]]);

  // A bad body names the field.
  const bad = await api(ctl.url, 'POST', '/v1/certs/rotate', { scope: 'everything' });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error, /scope/);

  await load.more(100);
  await load.stop();
  assert.deepEqual(load.failures, []);
});

test('meshctl certs rotate-root --wait with the mTLS push channel: proxies stay subscribed, and reconnect with new-root leaves to a new-root controller', async (t) => {
  const { ctl, port, proxies, pushChannel } = await controlledMesh(t, { pushMtls: true });
  const load = loadLoop(port, 2);
  t.after(() => load.stop());
  await load.more(20);
  const { stdout } = await run(process.execPath, [main, 'certs', 'rotate-root', '--wait', '--timeout', '30s', '--json', '--controller', ctl.url, '--token', TOKEN]);
  assert.equal(JSON.parse(stdout).rotation.phase, 'idle');
  const done = (await api(ctl.url, 'GET', '/v1/certs')).body;
  assert.equal(done.rotation.phase, 'idle');
  assert.equal(done.roots.length, 1);
  // A fresh push connection: the proxy's new leaf against the controller's certificate, both from the new root only.
  for (const p of proxies) {
    await eventually(() => assert.equal(certsOf(p.identity.current().trustBundlePem).length, 1));
    await pushChannel(p.service, false);
    await pushChannel(p.service, true);
  }
  await eventually(async () => {
    const r = (await api(ctl.url, 'GET', '/v1/proxies')).body;
    for (const p of r.proxies) {
      assert.ok(p.connected, `${p.proxyId} subscribed again`);
      assert.ok(p.inSync, `${p.proxyId} in sync`);
    }
  });
  // And a change made now still reaches them over the new connections.
  assert.equal((await api(ctl.url, 'POST', '/v1/certs/rotate', { scope: 'leaves' })).status, 200);
  for (const p of proxies) await eventually(() => assert.equal(p.identity.current().generation, 2));
  await load.more(50);
  await load.stop();
  assert.deepEqual(load.failures, []);
});
