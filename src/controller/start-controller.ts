// Starts a controller in this process: core + HTTP server (API and push
// channel). Used by `meshctl controller` and by the tests' harness.
import type { AddressInfo } from 'node:net';
import type { ServerOptions as HttpsOptions } from 'node:https';
import type { MeshConfig } from '../shared/mesh-config.ts';
import { MeshError } from '../shared/errors.ts';
import { ControllerCore, type CoreOptions } from './controller-core.ts';
import { createApiServer } from './api/api-server.ts';
import { CertAuthority } from './certs/cert-authority.ts';
import { ServiceTokens } from './certs/service-tokens.ts';

export interface StartControllerOptions extends CoreOptions {
  listen: { host: string; port: number };
  token: string;
  /** Serve the API and push channel over TLS (key/cert PEM; ca + requestCert for client certificates). */
  tls?: HttpsOptions;
  /** Run the mesh CA (`<stateDir>/ca`) and switch sidecar-to-sidecar traffic to mTLS. Default true. */
  mtls?: boolean;
  /** Lifetime of the leaves the CA signs (default 24 h). */
  leafTtlMs?: number;
}

export interface ControllerHandle {
  core: ControllerCore;
  url: string;
  address: { host: string; port: number };
  setConfig(config: MeshConfig): void;
  close(): Promise<void>;
}

export async function startController(opts: StartControllerOptions): Promise<ControllerHandle> {
  // The CA is created on first use and reused on the next start; its key never leaves <stateDir>/ca.
  const ca = opts.mtls === false ? undefined : await CertAuthority.open({ stateDir: opts.stateDir, project: opts.project, trustDomain: opts.config.trustDomain, leafTtlMs: opts.leafTtlMs });
  const tokens = ca ? await ServiceTokens.open(opts.stateDir, opts.project) : undefined;
  const core = new ControllerCore({ ...opts, certs: opts.certs ?? (ca ? { trustBundlePem: ca.trustBundlePem(), chains: {} } : undefined) });
  const server = createApiServer(core, opts.token, opts.tls, ca && tokens ? { ca, tokens } : undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new MeshError('MESH_ERR_PORT_IN_USE', `controller: ${opts.listen.host}:${opts.listen.port} is in use`, 'stop the other controller, or pass --listen with another port') : err),
    );
    server.listen(opts.listen.port, opts.listen.host, () => resolve());
  });
  try {
    await core.start();
  } catch (err) {
    server.close();
    throw err;
  }
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    core,
    url: `${opts.tls ? 'https' : 'http'}://${host}:${a.port}`,
    address: { host: a.address, port: a.port },
    setConfig: (c) => core.setConfig(c),
    async close() {
      await core.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
