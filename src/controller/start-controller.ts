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
import { RootRotation } from './certs/root-rotation.ts';

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
  /** Operational messages of the CA and of a root rotation (never key material). */
  log?: (msg: string) => void;
  /** Root rotation: how often it checks the proxies, and the pause before the old root goes (tests shorten them). */
  rootRotation?: { checkMs?: number; settleMs?: number };
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
  const ca = opts.mtls === false ? undefined : await CertAuthority.open({ stateDir: opts.stateDir, project: opts.project, trustDomain: opts.config.trustDomain, leafTtlMs: opts.leafTtlMs, log: opts.log });
  const tokens = ca ? await ServiceTokens.open(opts.stateDir, opts.project) : undefined;
  // Read from the CA on every change (root rotation, `meshctl certs rotate`), not once: each change is pushed.
  const caCerts = () => (ca ? { trustBundlePem: ca.trustBundlePem(), chains: {}, leafGeneration: ca.leafGeneration } : undefined);
  const core = new ControllerCore({ ...opts, certs: opts.certs ?? caCerts() });
  const rotation = ca ? new RootRotation(ca, { proxies: () => core.hub.status(), log: opts.log, ...opts.rootRotation }) : undefined;
  let push: Awaited<ReturnType<typeof startPushListener>> | undefined;
  ca?.onChange(() => {
    if (!opts.certs) core.setCerts(caCerts());
    push?.refresh();
  });
  const server = createApiServer(core, opts.token, opts.tls, ca && tokens && rotation ? { ca, tokens, rotation } : undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new MeshError('MESH_ERR_PORT_IN_USE', `controller: ${opts.listen.host}:${opts.listen.port} is in use`, 'stop the other controller, or pass --listen with another port') : err),
    );
    server.listen(opts.listen.port, opts.listen.host, () => resolve());
  });
  // Both listeners open before discovery starts (its first sync, and loading the Docker client, take a
  // while): at `meshctl up` the sidecars start with the controller, and can get their certificate and
  // subscribe meanwhile; the hub holds a subscription until discovery gives it a snapshot.
  if (opts.pushListen) {
    try {
      if (!ca) throw new MeshError('MESH_ERR_USAGE', 'the mTLS push listener needs the mesh CA', 'drop mtls: false, or the push listener');
      push = await startPushListener(core, ca, opts.pushListen, opts.pushDnsNames ?? []);
    } catch (err) {
      await core.stop();
      server.close();
      throw err;
    }
  }
  try {
    await core.start();
  } catch (err) {
    await push?.close();
    server.close();
    throw err;
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
      rotation?.close();
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
  // Renew at half life, and at once when the CA changes (a rotated root must sign
  // this certificate and be trusted for clients); new handshakes get the new one.
  let timer: NodeJS.Timeout;
  const renew = () => {
    clearTimeout(timer);
    issue().then(
      (next) => {
        tls = next;
        updatePushServerTls(server, tls);
        schedule();
      },
      () => schedule(),
    );
  };
  const schedule = () => {
    const half = Math.max(1000, (tls.notAfter.getTime() - Date.now()) / 2);
    timer = setTimeout(renew, Math.min(half, 2 ** 31 - 1));
    timer.unref();
  };
  schedule();
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `https://${host}:${a.port}`,
    refresh: renew,
    async close() {
      clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
