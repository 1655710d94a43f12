// `meshctl proxy` in a sidecar container: no snapshot file; subscribe to the
// controller (MESH_CONTROLLER_URL / --controller) and apply what it pushes.
// The certificate comes from the bootstrap listener (token); with
// MESH_CONTROLLER_PUSH_URL the push channel then runs over mTLS with that
// certificate, and the controller must prove spiffe://<td>/compose/<project>/controller.
// The admin server listens on all interfaces so the compose healthcheck
// (/ready: only once the first snapshot applied) and the controller's metrics
// scrape both reach it.
import { hostname } from 'node:os';
import { MeshError } from '../shared/errors.ts';
import { startConfigClient } from './config-client.ts';
import { controllerPushTls } from './identity/controller-push-tls.ts';
import { startProxy } from './proxy.ts';
import type { ProxyHandle } from './proxy-handle.ts';
import { accessLogStream } from './telemetry/access-log-stream.ts';
import { shrinkHeapAfterStart } from './shrink-heap-after-start.ts';
import { identityFromController } from './identity/controller-signer.ts';

export interface ControlledProxyOptions {
  controller: string;
  token?: string;
  /** https URL of the controller's mTLS push listener (default $MESH_CONTROLLER_PUSH_URL); else push runs over `controller`. */
  pushUrl?: string;
  service?: string;
  /** host:port; the CLI default (127.0.0.1:15000) is widened to 0.0.0.0 here. */
  admin?: { host: string; port: number };
}

export async function runControlledProxy(opts: ControlledProxyOptions): Promise<ProxyHandle> {
  const service = opts.service ?? process.env.MESH_SERVICE;
  const token = opts.token ?? process.env.MESH_BOOTSTRAP_TOKEN;
  if (!service) throw new MeshError('MESH_ERR_USAGE', 'meshctl proxy --controller needs the service name', 'set MESH_SERVICE (meshctl up does) or pass --service');
  if (!token) throw new MeshError('MESH_ERR_USAGE', 'meshctl proxy --controller needs the bootstrap token', 'set MESH_BOOTSTRAP_TOKEN (meshctl up does)');
  const admin = opts.admin ?? { host: '0.0.0.0', port: 15000 };
  // The certificate first: a sidecar without one cannot serve mTLS, so it stays unready until the CA signs.
  const identity = await identityFromController({
    url: opts.controller, bearer: token, service, serviceToken: process.env.MESH_TOKEN, proxyId: hostname(),
    log: (f) => process.stderr.write(JSON.stringify({ time: new Date().toISOString(), component: 'proxy', service, ...f }) + '\n'),
  });
  const proxy = await startProxy({ admin, adminToken: process.env.MESH_TOKEN, accessLog: accessLogStream(), identity });
  // The container's hostname is its short id: the controller matches it to discovery,
  // and Docker's DNS resolves it on the mesh network (for the metrics scrape).
  const proxyId = hostname();
  const log = (fields: Record<string, unknown>) => process.stderr.write(JSON.stringify({ time: new Date().toISOString(), component: 'proxy', service, ...fields }) + '\n');
  const pushUrl = (opts.pushUrl ?? process.env.MESH_CONTROLLER_PUSH_URL)?.replace(/\/+$/, '');
  const client = startConfigClient({
    url: pushUrl ?? opts.controller.replace(/\/+$/, ''),
    token, service, proxyId, handle: proxy, admin: `${proxyId}:${admin.port}`, log,
    ...(pushUrl ? { tls: controllerPushTls(identity) } : {}),
  });
  log({ msg: 'subscribing to the controller', controller: pushUrl ?? opts.controller, mtls: !!pushUrl, proxyId });
  shrinkHeapAfterStart(() => proxy.current() !== undefined);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    const ms = proxy.current()?.drainMs ?? 20_000;
    log({ msg: `${signal}, draining`, drainMs: ms });
    void client.close().then(() => proxy.drain(ms)).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return proxy;
}

