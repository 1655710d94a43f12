// Starts a controller in this process: core + HTTP server (API, sign
// endpoint and push channel with the token) and, with pushListen, the mTLS
// push listener (api/push-server.ts). Used by `meshctl controller` and by the
// tests' harness.
import type { AddressInfo } from 'node:net';
import type { ServerOptions as HttpsOptions } from 'node:https';
import type { MeshConfig } from '../shared/mesh-config.ts';
import { MeshError } from '../shared/errors.ts';
import { ControllerCore, type CoreOptions } from './controller-core.ts';
import { createApiServer } from './api/api-server.ts';
import { CertAuthority } from './certs/cert-authority.ts';
import { ServiceTokens } from './certs/service-tokens.ts';
import { createPushServer, updatePushServerTls } from './api/push-server.ts';

export interface StartControllerOptions extends CoreOptions {
  listen: { host: string; port: number };
  token: string;
  /** Serve the API and push channel over TLS (key/cert PEM; ca + requestCert for client certificates). */
  tls?: HttpsOptions;
  /** Run the mesh CA (`<stateDir>/ca`) and switch sidecar-to-sidecar traffic to mTLS. Default true. */
  mtls?: boolean;
  /** Lifetime of the leaves the CA signs (default 24 h). */
  leafTtlMs?: number;
  /**
   * Also serve the push channel (subscribe + ack) on this address over mTLS,
   * with a server certificate from the mesh CA; needs the CA (mtls not false).
   */
  pushListen?: { host: string; port: number };
  /** DNS SANs of that certificate besides `localhost` (the controller's compose service name). */
  pushDnsNames?: string[];
}

export interface ControllerHandle {
  core: ControllerCore;
  url: string;
  address: { host: string; port: number };
  /** https URL of the mTLS push listener, when pushListen was given. */
  pushUrl?: string;
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
  let push: Awaited<ReturnType<typeof startPushListener>> | undefined;
  if (opts.pushListen) {
    if (!ca) throw new MeshError('MESH_ERR_USAGE', 'the mTLS push listener needs the mesh CA', 'drop mtls: false, or the push listener');
    try {
      push = await startPushListener(core, ca, opts.pushListen, opts.pushDnsNames ?? []);
    } catch (err) {
      await core.stop();
      server.close();
      throw err;
    }
  }
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    core,
    url: `${opts.tls ? 'https' : 'http'}://${host}:${a.port}`,
    address: { host: a.address, port: a.port },
    ...(push ? { pushUrl: push.url } : {}),
    setConfig: (c) => core.setConfig(c),
    async close() {
      await core.stop();
      await push?.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function startPushListener(core: ControllerCore, ca: CertAuthority, listen: { host: string; port: number }, dnsNames: string[]) {
  const issue = async () => {
    const c = await ca.issueControllerCert([...new Set([...dnsNames, 'localhost'])]);
    return { ...c, trustBundlePem: ca.trustBundlePem() };
  };
  let tls = await issue();
  const server = createPushServer(core, tls, { trustDomain: ca.trustDomain, project: ca.project });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new MeshError('MESH_ERR_PORT_IN_USE', `controller push listener: ${listen.host}:${listen.port} is in use`, 'stop the other controller, or pick another push port') : err),
    );
    server.listen(listen.port, listen.host, () => resolve());
  });
  // Renew at half life (and pick up a rotated trust bundle then); new handshakes get the new certificate.
  let timer: NodeJS.Timeout;
  const schedule = () => {
    const half = Math.max(1000, (tls.notAfter.getTime() - Date.now()) / 2);
    timer = setTimeout(() => {
      issue().then(
        (next) => {
          tls = next;
          updatePushServerTls(server, tls);
          schedule();
        },
        () => schedule(),
      );
    }, Math.min(half, 2 ** 31 - 1));
    timer.unref();
  };
  schedule();
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `https://${host}:${a.port}`,
    async close() {
      clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
