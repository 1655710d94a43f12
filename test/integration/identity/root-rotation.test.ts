// Root rotation over real TLS: during the overlap a leaf from the old root is
// still accepted; once the old root is retired it is refused until renewed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { peerIdentity } from '../../../src/proxy/identity/peer-identity.ts';
import type { TlsRejection, WorkloadIdentity } from '../../../src/proxy/identity/workload-identity.ts';
import { eventually } from '../../harness/eventually.ts';
import { idOf, identityFrom, listen, tempCa } from './mesh-pki.ts';

function ask(client: WorkloadIdentity, port: number): Promise<{ data: string; error?: Error & { code?: string } }> {
  return new Promise((resolve) => {
    const socket = client.connect({ host: '127.0.0.1', port, expectedSpiffeId: idOf('payments') });
    let data = '';
    let error: (Error & { code?: string }) | undefined;
    socket.on('data', (d) => (data += d));
    socket.on('error', (e) => (error = e));
    socket.on('close', () => resolve({ data, error }));
  });
}

test('a leaf from the old root verifies during the overlap and is refused after retirement', async (t) => {
  const ca = await tempCa(t);
  const payments = await identityFrom(t, ca, 'payments');
  const orders = await identityFrom(t, ca, 'orders');
  const oldRoot = ca.roots()[0]!.serial;
  const rejections: TlsRejection[] = [];
  const srv = tls.createServer(payments.serverOptions(), (s) => s.end(peerIdentity(s).service ?? 'anonymous'));
  t.after(payments.attachServer(srv, (r) => rejections.push(r)));
  const port = await listen(t, srv);

  await ca.rotateRoot();
  assert.equal(ca.roots().length, 2);
  assert.notEqual(ca.roots()[0]!.serial, oldRoot);
  // The server renews from the new root; the bundle it gets holds both roots.
  await payments.renewNow();
  // The client keeps its old-root leaf and learns the new bundle (a snapshot push).
  orders.updateTrustBundle(ca.trustBundlePem());
  const overlap = await ask(orders, port);
  assert.equal(overlap.error, undefined);
  assert.equal(overlap.data, 'orders', 'old-root leaf accepted during the overlap');

  await ca.retirePreviousRoots();
  assert.equal(ca.roots().length, 1);
  payments.updateTrustBundle(ca.trustBundlePem());
  const refused = await ask(orders, port);
  assert.equal(refused.data, '', 'old-root leaf refused after retirement');
  // The client still trusts the old root, so OpenSSL sends it along with the
  // leaf; the server no longer trusts it.
  await eventually(() => assert.equal(rejections.at(-1)?.reason, 'SELF_SIGNED_CERT_IN_CHAIN'));

  await orders.renewNow();
  const renewed = await ask(orders, port);
  assert.equal(renewed.data, 'orders', 'a renewed leaf from the new root works');
});
