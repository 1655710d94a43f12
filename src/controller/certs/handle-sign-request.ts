// The controller API's sign endpoint in one function: validate the body,
// authenticate the service by its token (or the caller by the bootstrap
// token, which may ask for any service of the project), sign. The HTTP layer maps
// MESH_ERR_SIGN_UNAUTHORIZED to 403 and the other MeshErrors to 400.
import { MeshError } from '../../shared/errors.ts';
import { formatIssues } from '../../shared/snapshot.ts';
import { SignRequest, type SignResponse } from '../../shared/identity.ts';
import type { CertAuthority } from './cert-authority.ts';
import type { ServiceTokens } from './service-tokens.ts';

export async function handleSignRequest(ca: CertAuthority, tokens: ServiceTokens, body: unknown, { bearerOk = false } = {}): Promise<SignResponse> {
  const parsed = SignRequest.safeParse(body);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error);
    throw new MeshError('MESH_ERR_CSR_INVALID', `invalid sign request: ${issues}`);
  }
  const req = parsed.data;
  // A service token, when one is sent, is checked even for a bootstrap-token holder.
  const byBootstrap = bearerOk && !req.token;
  if (!byBootstrap && !tokens.verify(req.service, req.token)) {
    throw new MeshError('MESH_ERR_SIGN_UNAUTHORIZED', `the sign request for "${req.service}" has ${req.token ? 'a wrong' : 'no'} token`);
  }
  return ca.sign({ csrPem: req.csrPem, service: req.service, ...(req.proxyId ? { proxyId: req.proxyId } : {}) });
}
