// Static mode (`meshctl proxy --config ... --tls-cert --tls-key --tls-ca`):
// the proxy's identity from PEM files someone else issued. No renewal: for
// tests, benches and hand-run proxies; sidecars in a mesh use the controller.
import { readFile } from 'node:fs/promises';
import { MeshError } from '../../shared/errors.ts';
import { WorkloadIdentity } from './workload-identity.ts';

export async function identityFromFiles(files: { cert: string; key: string; ca: string }): Promise<WorkloadIdentity> {
  const read = (what: string, file: string) =>
    readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new MeshError('MESH_ERR_FILE_NOT_FOUND', `cannot read ${what} ${file}: ${err.code ?? err.message}`);
    });
  const [certChainPem, keyPem, trustBundlePem] = await Promise.all([read('--tls-cert', files.cert), read('--tls-key', files.key), read('--tls-ca', files.ca)]);
  return WorkloadIdentity.fromPem({ certChainPem, keyPem, trustBundlePem });
}
