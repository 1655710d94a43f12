// Bootstrap tokens that authenticate a sidecar's sign request as one service:
// HMAC-SHA256 over "<project>/<service>" with a secret kept beside the CA key.
// The controller hands each sidecar its token (environment of the generated
// compose file); whoever holds a service's token can get that service's
// identity, and nothing more.
import { createHmac } from 'node:crypto';
import { sameSecret } from '../../shared/same-secret.ts';
import { CaStore } from './ca-store.ts';

export class ServiceTokens {
  private readonly key: Buffer;
  private readonly project: string;

  private constructor(key: Buffer, project: string) {
    this.key = key;
    this.project = project;
  }

  static async open(stateDir: string, project: string): Promise<ServiceTokens> {
    return new ServiceTokens(await new CaStore(stateDir).readOrCreateTokenKey(), project);
  }

  tokenFor(service: string): string {
    return createHmac('sha256', this.key).update(`${this.project}/${service}`).digest('base64url');
  }

  verify(service: string, token: string | undefined): boolean {
    return !!token && sameSecret(token, this.tokenFor(service));
  }
}
