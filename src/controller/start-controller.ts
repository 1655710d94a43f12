// Starts a controller in this process: core + HTTP server (API and push
// channel). Used by `meshctl controller` and by the tests' harness.
import type { AddressInfo } from 'node:net';
import type { ServerOptions as HttpsOptions } from 'node:https';
import type { MeshConfig } from '../shared/mesh-config.ts';
import { MeshError } from '../shared/errors.ts';
import { ControllerCore, type CoreOptions } from './controller-core.ts';
import { createApiServer } from './api/api-server.ts';

export interface StartControllerOptions extends CoreOptions {
  listen: { host: string; port: number };
  token: string;
  /** Serve the API and push channel over TLS (key/cert PEM; ca + requestCert for client certificates). */
  tls?: HttpsOptions;
}

export interface ControllerHandle {
  core: ControllerCore;
  url: string;
  address: { host: string; port: number };
  setConfig(config: MeshConfig): void;
  close(): Promise<void>;
}

export async function startController(opts: StartControllerOptions): Promise<ControllerHandle> {
  const core = new ControllerCore(opts);
  const server = createApiServer(core, opts.token, opts.tls);
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
