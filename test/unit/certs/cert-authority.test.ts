// The mesh CA: root persistence and file modes, what a leaf contains, CSR
// verification, and root rotation with its overlap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, chmod, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, webcrypto } from 'node:crypto';
import { CertAuthority, BACKDATE_MS } from '../../../src/controller/certs/cert-authority.ts';
import { x509, EC_P256 } from '../../../src/controller/certs/x509.ts';
import { createKeyAndCsr } from '../../../src/proxy/identity/create-key-and-csr.ts';
import { SignResponse } from '../../../src/shared/identity.ts';

async function stateDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-ca-unit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('the root is created on first use with private modes and reused on the next open', async (t) => {
  const dir = await stateDir(t);
  const logs: string[] = [];
  const first = await CertAuthority.open({ stateDir: dir, project: 'shop', log: (m) => logs.push(m) });
  assert.equal((await stat(join(dir, 'ca'))).mode & 0o777, 0o700);
  assert.equal((await stat(join(dir, 'ca', 'root.key.pem'))).mode & 0o777, 0o600);
  const keyPem = await readFile(join(dir, 'ca', 'root.key.pem'), 'utf8');
  assert.match(keyPem, /BEGIN PRIVATE KEY/);
  const keyBody = keyPem.split('\n')[1]!;
  assert.ok(!logs.join('\n').includes(keyBody), 'the key never appears in the log');
  assert.equal(logs.length, 1);

  const second = await CertAuthority.open({ stateDir: dir, project: 'shop', log: (m) => logs.push(m) });
  assert.equal(second.roots()[0]!.serial, first.roots()[0]!.serial);
  assert.equal(logs.length, 1, 'no new root was created');

  const root = new X509Certificate(first.trustBundlePem());
  assert.ok(root.ca);
  assert.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const years = (Date.parse(root.validTo) - Date.now()) / (365 * 24 * 3600_000);
  assert.ok(years > 9.9 && years < 10.1, `root valid for ${years} years`);
});

test('a key file with loose permissions is tightened to 0600 on load', async (t) => {
  const dir = await stateDir(t);
  await CertAuthority.open({ stateDir: dir, project: 'shop' });
  await chmod(join(dir, 'ca', 'root.key.pem'), 0o644);
  const warnings: string[] = [];
  await CertAuthority.open({ stateDir: dir, project: 'shop', log: (m) => warnings.push(m) });
  assert.equal((await stat(join(dir, 'ca', 'root.key.pem'))).mode & 0o777, 0o600);
  assert.match(warnings.join(), /mode 644; set to 600/);
});

test('damaged CA state is reported, not silently replaced', async (t) => {
  const dir = await stateDir(t);
  await CertAuthority.open({ stateDir: dir, project: 'shop' });
  const other = await stateDir(t);
  await CertAuthority.open({ stateDir: other, project: 'shop' });
  // A key that belongs to another root.
  await writeFile(join(dir, 'ca', 'root.key.pem'), await readFile(join(other, 'ca', 'root.key.pem')));
  await assert.rejects(CertAuthority.open({ stateDir: dir, project: 'shop' }), { code: 'MESH_ERR_CA_STATE', message: /does not belong/ });
  await unlink(join(dir, 'ca', 'root.key.pem'));
  await assert.rejects(CertAuthority.open({ stateDir: dir, project: 'shop' }), { code: 'MESH_ERR_CA_STATE', message: /root\.key\.pem is missing/ });
});

test('a leaf names the authenticated service, not what the CSR asks for', async (t) => {
  const now = Date.UTC(2030, 0, 1, 12, 0, 0);
  const ca = await CertAuthority.open({ stateDir: await stateDir(t), project: 'shop', trustDomain: 'corp.test', now: () => now, leafTtlMs: 3600_000 });
  // The CSR claims to be "admin" with its own SAN; the caller authenticated as orders.
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=admin',
    keys,
    signingAlgorithm: EC_P256,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'spiffe://corp.test/compose/shop/svc/admin' }])],
  });
  const res = SignResponse.parse(await ca.sign({ csrPem: csr.toString('pem'), service: 'orders' }));
  const leaf = new X509Certificate(res.certChainPem);
  assert.equal(leaf.subjectAltName, 'URI:spiffe://corp.test/compose/shop/svc/orders, DNS:orders');
  assert.match(leaf.subject, /CN=orders/);
  assert.equal(leaf.ca, false);
  assert.ok(leaf.verify(new X509Certificate(res.trustBundlePem).publicKey), 'signed by the root');
  assert.equal(Date.parse(res.notBefore), now - BACKDATE_MS);
  assert.equal(Date.parse(res.notAfter), now + 3600_000);
  assert.equal(leaf.serialNumber.toLowerCase(), res.serial);
  assert.deepEqual(leaf.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  const parsed = new x509.X509Certificate(res.certChainPem);
  const ku = parsed.getExtension(x509.KeyUsagesExtension)!;
  assert.equal(ku.usages, x509.KeyUsageFlags.digitalSignature);
  assert.equal(ku.critical, true);
  assert.deepEqual(ca.issued().map((i) => [i.service, i.serial]), [['orders', res.serial]]);
});

test('serials are random and leaves default to 24 hours', async (t) => {
  const ca = await CertAuthority.open({ stateDir: await stateDir(t), project: 'shop' });
  const a = await ca.sign({ csrPem: (await createKeyAndCsr('orders')).csrPem, service: 'orders' });
  const b = await ca.sign({ csrPem: (await createKeyAndCsr('orders')).csrPem, service: 'orders' });
  assert.notEqual(a.serial, b.serial);
  assert.equal(a.serial.length, 32);
  const hours = (Date.parse(a.notAfter) - Date.parse(a.notBefore) - BACKDATE_MS) / 3600_000;
  assert.ok(Math.abs(hours - 24) < 0.01, `${hours} h`);
});

test('a CSR signed by another key than the one it carries is rejected', async (t) => {
  const ca = await CertAuthority.open({ stateDir: await stateDir(t), project: 'shop' });
  const victim = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const attacker = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=orders',
    keys: { publicKey: victim.publicKey, privateKey: attacker.privateKey },
    signingAlgorithm: EC_P256,
  });
  await assert.rejects(ca.sign({ csrPem: csr.toString('pem'), service: 'orders' }), { code: 'MESH_ERR_CSR_INVALID', message: /signature does not verify/ });
});

test('a tampered CSR is rejected', async (t) => {
  const ca = await CertAuthority.open({ stateDir: await stateDir(t), project: 'shop' });
  const { csrPem } = await createKeyAndCsr('orders');
  const der = Buffer.from(x509.PemConverter.decodeFirst(csrPem));
  // Flip a byte of the subject inside the signed part ("orders" -> "orderz").
  const at = der.indexOf(Buffer.from('orders'));
  assert.ok(at > 0);
  der[at + 5] = 'z'.charCodeAt(0);
  const tampered = x509.PemConverter.encode(der, 'CERTIFICATE REQUEST');
  await assert.rejects(ca.sign({ csrPem: tampered, service: 'orders' }), { code: 'MESH_ERR_CSR_INVALID', message: /signature does not verify/ });
  await assert.rejects(ca.sign({ csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', service: 'orders' }), {
    code: 'MESH_ERR_CSR_INVALID',
  });
  await assert.rejects(ca.sign({ csrPem, service: '../etc' }), { code: 'MESH_ERR_CSR_INVALID', message: /not a compose service name/ });
});

test('root rotation keeps the old root trusted until it is retired, across restarts', async (t) => {
  const dir = await stateDir(t);
  const ca = await CertAuthority.open({ stateDir: dir, project: 'shop' });
  const oldRoot = new X509Certificate(ca.trustBundlePem());
  const oldLeaf = new X509Certificate((await ca.sign({ csrPem: (await createKeyAndCsr('orders')).csrPem, service: 'orders' })).certChainPem);

  await ca.rotateRoot();
  const reopened = await CertAuthority.open({ stateDir: dir, project: 'shop' });
  for (const c of [ca, reopened]) {
    const roots = c.roots();
    assert.equal(roots.length, 2);
    assert.equal(roots[0]!.active, true);
    assert.equal(roots[1]!.serial, oldRoot.serialNumber.toLowerCase());
  }
  const newRoot = new X509Certificate(reopened.trustBundlePem().split(/(?<=-----END CERTIFICATE-----\n)/)[0]!);
  assert.notEqual(newRoot.subject, oldRoot.subject, 'distinct subjects, so chain building never confuses them');
  const newLeaf = new X509Certificate((await reopened.sign({ csrPem: (await createKeyAndCsr('orders')).csrPem, service: 'orders' })).certChainPem);
  assert.ok(newLeaf.verify(newRoot.publicKey));
  assert.ok(!newLeaf.verify(oldRoot.publicKey));
  assert.ok(oldLeaf.verify(oldRoot.publicKey));

  await reopened.retirePreviousRoots();
  const afterRetire = await CertAuthority.open({ stateDir: dir, project: 'shop' });
  assert.equal(afterRetire.roots().length, 1);
  assert.equal(afterRetire.roots()[0]!.serial, newRoot.serialNumber.toLowerCase());
  assert.equal((await stat(join(dir, 'ca', 'root.key.pem'))).mode & 0o777, 0o600);
});
