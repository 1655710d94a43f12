// Creates a self-signed ECDSA P-256 mesh root. The key is returned as PKCS#8
// PEM only so the caller can persist it (mode 0600); it is never logged.
import { webcrypto } from 'node:crypto';
import { x509, EC_P256 } from './x509.ts';
import { randomSerial } from './random-serial.ts';

export interface RootMaterial {
  certPem: string;
  keyPem: string;
}

export async function createRoot(opts: { trustDomain: string; project: string; now: number; ttlMs: number }): Promise<RootMaterial> {
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Math.floor(opts.now / 1000) * 1000 - 5 * 60_000);
  // A distinct subject per root: during a rotation overlap both roots sit in
  // the same trust store, and chain building looks issuers up by subject.
  const stamp = new Date(opts.now).toISOString().replace(/\.\d+Z$/, 'Z');
  const serialNumber = randomSerial();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber,
    name: [{ O: ['meshctl'] }, { OU: [`${opts.trustDomain}/${opts.project}`] }, { CN: [`meshctl root ${stamp} ${serialNumber.slice(0, 8)}`] }],
    notBefore,
    notAfter: new Date(opts.now + opts.ttlMs),
    signingAlgorithm: EC_P256,
    keys,
    extensions: [
      // pathLen 0: the root signs leaves directly, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}
