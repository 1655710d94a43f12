// The sign endpoint: the body is validated, the service is authenticated by
// its token, and the leaf is for that service only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { CertAuthority } from '../../../src/controller/certs/cert-authority.ts';
import { ServiceTokens } from '../../../src/controller/certs/service-tokens.ts';
import { handleSignRequest } from '../../../src/controller/certs/handle-sign-request.ts';
import { x509 } from '../../../src/controller/certs/x509.ts';
import { createKeyAndCsr } from '../../../src/proxy/identity/create-key-and-csr.ts';

async function setup(t: { after(fn: () => unknown): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-sign-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { dir, ca: await CertAuthority.open({ stateDir: dir, project: 'shop' }), tokens: await ServiceTokens.open(dir, 'shop') };
}

test('a request with the service token gets a leaf for that service', async (t) => {
  const { dir, ca, tokens } = await setup(t);
  const { csrPem } = await createKeyAndCsr('orders');
  const res = await handleSignRequest(ca, tokens, { csrPem, service: 'orders', token: tokens.tokenFor('orders') });
  assert.match(new X509Certificate(res.certChainPem).subjectAltName!, /svc\/orders, DNS:orders$/);
  assert.equal((await stat(join(dir, 'ca', 'token.key'))).mode & 0o777, 0o600);
  // Tokens survive a restart.
  assert.equal((await ServiceTokens.open(dir, 'shop')).tokenFor('orders'), tokens.tokenFor('orders'));
});

test('a missing or another service token is refused', async (t) => {
  const { ca, tokens } = await setup(t);
  const { csrPem } = await createKeyAndCsr('orders');
  await assert.rejects(handleSignRequest(ca, tokens, { csrPem, service: 'payments', token: tokens.tokenFor('orders') }), {
    code: 'MESH_ERR_SIGN_UNAUTHORIZED',
    message: /"payments" has a wrong token/,
  });
  await assert.rejects(handleSignRequest(ca, tokens, { csrPem, service: 'orders' }), { code: 'MESH_ERR_SIGN_UNAUTHORIZED', message: /has no token/ });
  const otherProject = await ServiceTokens.open((await setup(t)).dir, 'shop');
  assert.equal(tokens.verify('orders', otherProject.tokenFor('orders')), false, 'tokens are per CA secret');
});

test('a malformed body names the field; a non-EC key is refused', async (t) => {
  const { ca, tokens } = await setup(t);
  await assert.rejects(handleSignRequest(ca, tokens, { service: 'orders', token: 'x' }), { code: 'MESH_ERR_CSR_INVALID', message: /csrPem/ });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const keys = {
    publicKey: await crypto.subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), alg, true, ['verify']),
    privateKey: await crypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), alg, true, ['sign']),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=orders', keys, signingAlgorithm: alg });
  await assert.rejects(handleSignRequest(ca, tokens, { csrPem: csr.toString('pem'), service: 'orders', token: tokens.tokenFor('orders') }), {
    code: 'MESH_ERR_CSR_INVALID',
    message: /ECDSA P-256 or P-384 keys only/,
  });
});
