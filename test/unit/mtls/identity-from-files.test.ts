// Static mode: a proxy identity from PEM files (no signer, no renewal).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertAuthority } from '../../../src/controller/certs/cert-authority.ts';
import { createKeyAndCsr } from '../../../src/proxy/identity/create-key-and-csr.ts';
import { identityFromFiles } from '../../../src/proxy/identity/identity-from-files.ts';

test('identityFromFiles: serves the issued leaf; refuses a key that is not the certificate\'s', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-static-id-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = await CertAuthority.open({ stateDir: join(dir, 'state'), project: 'shop' });
  const { keyPem, csrPem } = await createKeyAndCsr('orders');
  const signed = await ca.sign({ csrPem, service: 'orders' });
  writeFileSync(join(dir, 'c.pem'), signed.certChainPem);
  writeFileSync(join(dir, 'k.pem'), keyPem);
  writeFileSync(join(dir, 'ca.pem'), signed.trustBundlePem);
  const id = await identityFromFiles({ cert: join(dir, 'c.pem'), key: join(dir, 'k.pem'), ca: join(dir, 'ca.pem') });
  t.after(() => id.close());
  assert.equal(id.service, 'orders');
  assert.equal(id.current().spiffeId, 'spiffe://mesh.local/compose/shop/svc/orders');
  assert.equal(id.current().serial, signed.serial);
  assert.ok(id.serverOptions().requestCert);

  const other = await createKeyAndCsr('orders');
  writeFileSync(join(dir, 'k2.pem'), other.keyPem);
  await assert.rejects(identityFromFiles({ cert: join(dir, 'c.pem'), key: join(dir, 'k2.pem'), ca: join(dir, 'ca.pem') }), /does not belong to the private key/);
  await assert.rejects(identityFromFiles({ cert: join(dir, 'missing.pem'), key: join(dir, 'k.pem'), ca: join(dir, 'ca.pem') }), (e: Error & { code?: string }) => e.code === 'MESH_ERR_FILE_NOT_FOUND');
});
