// Client TLS for the mTLS push channel: this proxy's current leaf, read for
// every new connection (so a rotated certificate is used from the next one),
// the mesh roots, TLS 1.3, and the controller's SPIFFE id checked instead of
// the host name.
import { MeshError } from '../../shared/errors.ts';
import { controllerSpiffeId, parseSpiffeId } from '../../shared/names.ts';
import type { ControllerTls } from '../config-client.ts';
import { checkSpiffeId } from './spiffe-san.ts';
import type { WorkloadIdentity } from './workload-identity.ts';

export function controllerPushTls(identity: Pick<WorkloadIdentity, 'current'>): () => ControllerTls {
  return () => {
    const m = identity.current();
    const me = parseSpiffeId(m.spiffeId);
    if (!me) throw new MeshError('MESH_ERR_IDENTITY_UNAVAILABLE', `own certificate names ${m.spiffeId}, not a mesh service identity`);
    return { key: m.keyPem, cert: m.certChainPem, ca: m.trustBundlePem, minVersion: 'TLSv1.3', checkServerIdentity: checkSpiffeId(controllerSpiffeId(me.trustDomain, me.project)) };
  };
}
