// Verifies a CSR and issues a short-lived SPIFFE leaf for an identity the
// caller has already authenticated. Names inside the CSR are ignored: the
// identity comes from the authenticated service, never from the requester.
import { MeshError } from '../../shared/errors.ts';
import { x509, EC_P256 } from './x509.ts';
import { randomSerial } from './random-serial.ts';

export interface Issuer {
  cert: x509.X509Certificate;
  key: CryptoKey;
}

export interface LeafRequest {
  csrPem: string;
  spiffeId: string;
  dnsName: string;
  /** More DNS SANs after dnsName (the controller's server certificate adds `localhost`). */
  extraDnsNames?: string[];
  notBefore: Date;
  notAfter: Date;
}

const ACCEPTED_CURVES = new Set(['P-256', 'P-384']);

export async function parseAndVerifyCsr(csrPem: string): Promise<x509.Pkcs10CertificateRequest> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new MeshError('MESH_ERR_CSR_INVALID', `the CSR does not parse: ${(err as Error).message}`);
  }
  const alg = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (alg.name !== 'ECDSA' || !ACCEPTED_CURVES.has(alg.namedCurve ?? '')) {
    throw new MeshError('MESH_ERR_CSR_INVALID', `the CSR key is ${alg.name ?? '?'} ${alg.namedCurve ?? ''}; the mesh signs ECDSA P-256 or P-384 keys only`);
  }
  let ok = false;
  try {
    ok = await csr.verify();
  } catch {
    ok = false;
  }
  // A bad signature means the CSR was altered, or signed by a key other than
  // the one it asks a certificate for (no proof of possession).
  if (!ok) throw new MeshError('MESH_ERR_CSR_INVALID', 'the CSR signature does not verify with the public key it carries');
  return csr;
}

export async function signLeaf(issuer: Issuer, req: LeafRequest): Promise<x509.X509Certificate> {
  const csr = await parseAndVerifyCsr(req.csrPem);
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ O: ['meshctl'] }, { CN: [req.dnsName] }],
    issuer: issuer.cert.subjectName,
    notBefore: req.notBefore,
    notAfter: req.notAfter,
    signingAlgorithm: EC_P256,
    publicKey: csr.publicKey,
    signingKey: issuer.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension(
        [
          { type: 'url', value: req.spiffeId },
          { type: 'dns', value: req.dnsName },
          ...(req.extraDnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
        ],
        false,
      ),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey, false),
    ],
  });
}
