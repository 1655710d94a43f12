// `meshctl proxy --config file.json --admin host:port`: serve a static
// snapshot file, re-read it on SIGHUP, drain on SIGTERM/SIGINT.
import { readFile } from 'node:fs/promises';
import { MeshError } from '../shared/errors.ts';
import { parseSnapshot } from '../shared/snapshot.ts';
import { startProxy } from './proxy.ts';
import type { ProxyHandle } from './proxy-handle.ts';
import { accessLogStream } from './telemetry/access-log-stream.ts';
import { shrinkHeapAfterStart } from './shrink-heap-after-start.ts';
import { useLeanAsyncResourceBind } from './lean-async-resource-bind.ts';

export interface RunProxyOptions {
  config?: string;
  admin?: string;
  /** Controller URL (else $MESH_CONTROLLER_URL): subscribe instead of reading a file. */
  controller?: string;
  /** Static mode with mTLS: this proxy's certificate chain, key and the roots to trust (PEM files). */
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

/** "host:port", "[v6]:port" or ":port" (all interfaces). */
export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new MeshError('MESH_ERR_USAGE', `--admin "${value}" is not host:port`, 'pass e.g. --admin 127.0.0.1:15000');
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

async function loadSnapshotFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new MeshError('MESH_ERR_FILE_NOT_FOUND', `cannot read snapshot file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new MeshError('MESH_ERR_SNAPSHOT_INVALID', `${file} is not JSON: ${(err as Error).message}`);
  }
  const parsed = parseSnapshot(value);
  if (!parsed.ok) throw new MeshError('MESH_ERR_SNAPSHOT_INVALID', `${file}: invalid snapshot:\n    ${parsed.issues.join('\n    ')}`);
  return value;
}

export async function runProxy(opts: RunProxyOptions): Promise<ProxyHandle> {
  // This process is a sidecar and nothing else: node:http2's per-request bind() gets cheaper.
  useLeanAsyncResourceBind();
  const controller = opts.controller ?? (opts.config ? undefined : process.env.MESH_CONTROLLER_URL);
  if (controller) {
    const { runControlledProxy } = await import('./run-controlled-proxy.ts');
    // The CLI default admin (loopback) would hide /ready and /metrics from the healthcheck's peers and the controller.
    const admin = opts.admin && opts.admin !== '127.0.0.1:15000' ? parseHostPort(opts.admin) : undefined;
    return runControlledProxy({ controller, admin });
  }
  if (!opts.config) throw new MeshError('MESH_ERR_USAGE', 'meshctl proxy needs --config <snapshot.json>, or --controller <url> (or $MESH_CONTROLLER_URL)');
  const file = opts.config;
  const admin = opts.admin ? parseHostPort(opts.admin) : undefined;
  const first = await loadSnapshotFile(file);
  let identity: import('./identity/workload-identity.ts').WorkloadIdentity | undefined;
  if (opts.tlsCert || opts.tlsKey || opts.tlsCa) {
    if (!opts.tlsCert || !opts.tlsKey || !opts.tlsCa) throw new MeshError('MESH_ERR_USAGE', 'mTLS in static mode needs all of --tls-cert, --tls-key and --tls-ca');
    const { identityFromFiles } = await import('./identity/identity-from-files.ts');
    identity = await identityFromFiles({ cert: opts.tlsCert, key: opts.tlsKey, ca: opts.tlsCa });
  }
  let proxy: ProxyHandle;
  try {
    proxy = await startProxy({ admin, accessLog: accessLogStream(), identity });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') throw new MeshError('MESH_ERR_PORT_IN_USE', `admin server cannot listen on ${opts.admin}: ${code}`);
    throw err;
  }
  const r = await proxy.apply(first);
  if (!r.ok) {
    await proxy.close();
    const inUse = r.issues.some((i) => /EADDRINUSE|EACCES/.test(i));
    throw new MeshError(inUse ? 'MESH_ERR_PORT_IN_USE' : 'MESH_ERR_SNAPSHOT_INVALID', `${file}: ${r.issues.join('; ')}`);
  }
  const a = proxy.adminAddress();
  process.stderr.write(`meshctl proxy: serving ${file} (version ${r.version}, hash ${r.hash})${a ? `, admin on http://${a.address}:${a.port}` : ''}\n`);
  for (const l of proxy.current()!.listeners) {
    const b = proxy.listenerAddress(l.name);
    process.stderr.write(`  listener ${l.name} ${l.direction} ${l.protocol} on ${b?.address}:${b?.port}\n`);
  }
  shrinkHeapAfterStart(() => true);

  const reload = async (): Promise<void> => {
    try {
      const next = await proxy.apply(await loadSnapshotFile(file));
      if (next.ok) process.stderr.write(`meshctl proxy: reloaded ${file}: version ${next.version}, ${next.changed ? 'applied' : 'unchanged'}\n`);
      else process.stderr.write(`meshctl proxy: rejected ${file}, keeping the live snapshot:\n    ${next.issues.join('\n    ')}\n`);
    } catch (err) {
      process.stderr.write(`meshctl proxy: rejected ${file}, keeping the live snapshot: ${(err as Error).message}\n`);
    }
  };
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      process.exit(1); // a second signal: stop now
    }
    stopping = true;
    const ms = proxy.current()?.drainMs ?? 20_000;
    process.stderr.write(`meshctl proxy: ${signal}, draining for up to ${ms} ms\n`);
    void proxy.drain(ms).then(() => process.exit(0));
  };
  process.on('SIGHUP', () => void reload());
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return proxy;
}
