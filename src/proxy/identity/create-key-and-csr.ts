// A fresh ECDSA P-256 key pair and a CSR for it. The key stays in this
// process's memory (PEM for node:tls); it is never written to disk or sent.
import { webcrypto } from 'node:crypto';
import { x509, EC_P256 } from './x509.ts';

export interface KeyAndCsr {
  keyPem: string;
  csrPem: string;
}

export async function createKeyAndCsr(service: string): Promise<KeyAndCsr> {
  // Extractable only because node:tls takes the key as PEM, not a CryptoKey.
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  // The CA ignores these names and issues for the service it authenticated;
  // they are here for humans reading the CSR.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ O: ['meshctl'] }, { CN: [service] }],
    keys,
    signingAlgorithm: EC_P256,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), csrPem: csr.toString('pem') };
}
