// Certificate time errors name the validity window and the local clock;
// SPIFFE ids are read from URI SANs only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainCertTimeError } from '../../../src/proxy/identity/explain-tls-error.ts';
import { checkSpiffeId, spiffeIdOf, uriSans } from '../../../src/proxy/identity/spiffe-san.ts';
import { SignRequest, SignResponse } from '../../../src/shared/identity.ts';

const cert = { serial: 'ab12', subject: 'spiffe://mesh.local/compose/shop/svc/orders', notBefore: new Date('2030-01-01T00:00:00Z'), notAfter: new Date('2030-01-02T00:00:00Z') };

test('an expired certificate error states notBefore, notAfter and the local clock', () => {
  const err = explainCertTimeError('CERT_HAS_EXPIRED', cert, Date.parse('2030-01-02T00:03:00Z'))!;
  assert.equal(err.code, 'MESH_ERR_CERT_EXPIRED');
  assert.equal(
    err.message,
    "CERT_HAS_EXPIRED: the peer's certificate ab12 (spiffe://mesh.local/compose/shop/svc/orders) is valid from 2030-01-01T00:00:00.000Z to 2030-01-02T00:00:00.000Z, and the local clock is 2030-01-02T00:03:00.000Z (3min past notAfter)",
  );
  assert.match(err.hint, /clock/);
});

test('a not-yet-valid certificate says how far the clock is behind', () => {
  const err = explainCertTimeError('CERT_NOT_YET_VALID', cert, Date.parse('2029-12-31T22:00:00Z'), 'own')!;
  assert.equal(err.code, 'MESH_ERR_CERT_NOT_YET_VALID');
  assert.match(err.message, /our certificate ab12 .* valid from 2030-01-01T00:00:00.000Z to 2030-01-02T00:00:00.000Z, and the local clock is 2029-12-31T22:00:00.000Z \(2.0h before notBefore\)/);
});

test('the alert a peer sends for our expired certificate is explained too; other errors are not', () => {
  assert.equal(explainCertTimeError('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', undefined, 0, 'own')?.code, 'MESH_ERR_CERT_EXPIRED');
  assert.match(explainCertTimeError('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', undefined, 0, 'own')!.message, /local clock is 1970-01-01T00:00:00.000Z/);
  assert.equal(explainCertTimeError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', cert, 0), undefined);
  assert.equal(explainCertTimeError(undefined, cert, 0), undefined);
});

test('SPIFFE ids come from exactly one URI SAN', () => {
  assert.deepEqual(uriSans('URI:spiffe://a/b, DNS:orders, URI:https://x'), ['spiffe://a/b', 'https://x']);
  assert.equal(spiffeIdOf({ subjectaltname: 'DNS:orders, URI:spiffe://a/b' }), 'spiffe://a/b');
  assert.equal(spiffeIdOf({ subjectaltname: 'URI:spiffe://a/b, URI:spiffe://a/c' }), undefined);
  assert.equal(spiffeIdOf({ subjectaltname: 'DNS:spiffe://a/b' }), undefined);
  assert.equal(spiffeIdOf(undefined), undefined);
  const check = checkSpiffeId('spiffe://a/b');
  assert.equal(check('h', { subjectaltname: 'URI:spiffe://a/b' } as never), undefined);
  assert.match(String(check('h', { subjectaltname: 'URI:spiffe://a/c' } as never)?.message), /h presented spiffe:\/\/a\/c, expected spiffe:\/\/a\/b/);
});

test('sign request and response schemas', () => {
  const csrPem = '-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----\n';
  assert.ok(SignRequest.safeParse({ csrPem, service: 'orders' }).success);
  assert.ok(SignRequest.safeParse({ csrPem, service: 'orders', token: 't' }).success);
  assert.ok(!SignRequest.safeParse({ csrPem, service: '../x' }).success);
  assert.ok(!SignRequest.safeParse({ csrPem: 'x', service: 'orders' }).success);
  assert.ok(!SignRequest.safeParse({ csrPem, service: 'orders', extra: 1 }).success);
  const certPem = '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n';
  const ok = { certChainPem: certPem, trustBundlePem: certPem, notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2030-01-02T00:00:00.000Z', serial: 'ab' };
  assert.ok(SignResponse.safeParse(ok).success);
  assert.ok(!SignResponse.safeParse({ ...ok, serial: 'AB' }).success);
  assert.ok(!SignResponse.safeParse({ ...ok, notAfter: 'tomorrow' }).success);
});
