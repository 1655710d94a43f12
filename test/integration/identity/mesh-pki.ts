// Builders for identity tests: a CA in a temp dir, sidecar identities signed
// by it, and TLS servers on port 0 that are closed after the test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server, Socket } from 'node:net';
import { CertAuthority, type CertAuthorityOptions } from '../../../src/controller/certs/cert-authority.ts';
import { WorkloadIdentity, type WorkloadIdentityOptions } from '../../../src/proxy/identity/workload-identity.ts';
import { spiffeId } from '../../../src/shared/names.ts';

export const PROJECT = 'shop';
export const TRUST_DOMAIN = 'mesh.local';
export const idOf = (service: string) => spiffeId(TRUST_DOMAIN, PROJECT, service);

export interface TestContext {
  after(fn: () => unknown): void;
}

export async function tempCa(t: TestContext, opts: Partial<CertAuthorityOptions> = {}): Promise<CertAuthority> {
  const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'mesh-ca-')));
  if (!opts.stateDir) t.after(() => rm(stateDir, { recursive: true, force: true }));
  return CertAuthority.open({ project: PROJECT, trustDomain: TRUST_DOMAIN, ...opts, stateDir });
}

export async function identityFrom(
  t: TestContext,
  ca: CertAuthority,
  service: string,
  opts: Partial<WorkloadIdentityOptions> = {},
): Promise<WorkloadIdentity> {
  // The controller API authenticates the caller; here the test is the API.
  const id = await WorkloadIdentity.start({ service, signer: (req) => ca.sign(req), ...opts });
  t.after(() => id.close());
  return id;
}

export async function listen(t: TestContext, server: Server): Promise<number> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  );
  return (server.address() as AddressInfo).port;
}
