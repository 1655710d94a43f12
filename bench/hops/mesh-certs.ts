// mTLS material for the bench's meshctl hops: one mesh CA per run (in the
// run's temp dir) and a leaf per service, written as PEM files for
// `meshctl proxy --tls-cert/--tls-key/--tls-ca`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertAuthority } from '../../src/controller/certs/cert-authority.ts';
import { createKeyAndCsr } from '../../src/proxy/identity/create-key-and-csr.ts';

const cas = new Map<string, Promise<CertAuthority>>();

/** CLI args giving the hop its identity as `service`. */
export async function meshCertArgs(tmpDir: string, service: string): Promise<string[]> {
  let ca = cas.get(tmpDir);
  if (!ca) {
    ca = CertAuthority.open({ stateDir: join(tmpDir, 'mesh-ca'), project: 'bench' });
    cas.set(tmpDir, ca);
  }
  const authority = await ca;
  const { keyPem, csrPem } = await createKeyAndCsr(service);
  const signed = await authority.sign({ csrPem, service });
  const base = join(tmpDir, `mtls-${service}`);
  writeFileSync(`${base}.crt`, signed.certChainPem);
  writeFileSync(`${base}.key`, keyPem, { mode: 0o600 });
  writeFileSync(`${base}.ca`, signed.trustBundlePem);
  return ['--tls-cert', `${base}.crt`, '--tls-key', `${base}.key`, '--tls-ca', `${base}.ca`];
}
