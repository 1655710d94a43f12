// A small mesh for certificate tests: an in-process controller (static
// discovery, its CA under a temp state dir), real sidecars for web and product
// that get their leaves from the controller and their snapshots over the push
// channel, product's app behind, and a load loop through web's sidecar that
// counts every failed request.
import { createServer } from 'node:http';
import { join } from 'node:path';
import { startController, type ControllerHandle } from '../../../src/controller/start-controller.ts';
import { StaticDiscovery } from '../../../src/controller/discovery/static-discovery.ts';
import { MeshConfig } from '../../../src/shared/mesh-config.ts';
import { freePort } from '../../../src/cli/up/host-ports.ts';
import { startProxy } from '../../../src/proxy/proxy.ts';
import { startConfigClient } from '../../../src/proxy/config-client.ts';
import { identityFromController } from '../../../src/proxy/identity/controller-signer.ts';
import { controllerPushTls } from '../../../src/proxy/identity/controller-push-tls.ts';
import type { WorkloadIdentity } from '../../../src/proxy/identity/workload-identity.ts';
import { api, callProduct, loopbackWorkloads, tempDir, TOKEN, writeWorkloads } from '../../harness/controller-harness.ts';
import { eventually } from '../../harness/eventually.ts';

type T = { after(fn: () => unknown): void };

export interface ControlledMesh {
  ctl: ControllerHandle;
  port: number;
  proxies: { service: string; proxyId: string; identity: WorkloadIdentity }[];
  /** Cuts a proxy's push channel (it keeps serving on its last snapshot), or opens it again. */
  pushChannel(service: string, open: boolean): Promise<void>;
}

/** `pushMtls`: proxies subscribe on the controller's mTLS push listener with their leaves, as under `meshctl up`. */
export async function controlledMesh(t: T, opts: { pushMtls?: boolean } = {}): Promise<ControlledMesh> {
  const dir = tempDir(t);
  const port = await freePort('127.0.20.1');
  const app = createServer((_req, res) => res.end('product'));
  app.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => app.listen(port, '127.0.20.1', r));
  t.after(() => {
    app.closeAllConnections();
    return new Promise<void>((r) => app.close(() => r()));
  });
  const file = join(dir, 'workloads.json');
  writeWorkloads(file, loopbackWorkloads({ product: port, web: port }).filter((w) => w.id !== 'web-app'));
  const ctl = await startController({
    project: 'it',
    config: MeshConfig.parse({ services: { product: { ports: [port] } } }),
    discovery: new StaticDiscovery(file, { intervalMs: 20 }),
    stateDir: join(dir, 'state'),
    listen: { host: '127.0.0.1', port: 0 },
    token: TOKEN,
    scrapeMs: 60_000,
    rootRotation: { checkMs: 50, settleMs: 300 },
    ...(opts.pushMtls ? { pushListen: { host: '127.0.0.1', port: 0 } } : {}),
  });
  t.after(() => ctl.close());
  const proxies = await Promise.all(
    ['web', 'product'].map(async (service) => {
      const proxyId = `${service}-mesh`;
      const identity = await identityFromController({ url: ctl.url, bearer: TOKEN, service, proxyId, timeoutMs: 10_000 });
      t.after(() => identity.close());
      const handle = await startProxy({ admin: { host: '127.0.0.1', port: 0 }, accessLog: { write: () => true } as unknown as NodeJS.WritableStream, identity });
      t.after(() => handle.close());
      const push = opts.pushMtls ? { url: ctl.pushUrl!, tls: controllerPushTls(identity) } : { url: ctl.url };
      const connect = () => startConfigClient({ ...push, token: TOKEN, service, proxyId, handle, backoff: { baseMs: 20, maxMs: 300 } });
      let client: ReturnType<typeof connect> | undefined = connect();
      t.after(() => client?.close());
      const channel = async (open: boolean) => {
        if (!open) await client?.close();
        client = open ? (client ?? connect()) : undefined;
      };
      return { service, proxyId, identity, channel };
    }),
  );
  await eventually(async () => {
    const r = await api(ctl.url, 'GET', '/v1/proxies');
    if (r.body.proxies.length !== 2 || !r.body.proxies.every((p: { inSync: boolean }) => p.inSync)) throw new Error('not in sync');
  });
  await eventually(() => callProduct(port));
  return {
    ctl, port,
    proxies: proxies.map(({ service, proxyId, identity }) => ({ service, proxyId, identity })),
    pushChannel: (service, open) => proxies.find((p) => p.service === service)!.channel(open),
  };
}

/** Workers calling product through web's sidecar until stop(); every non-200 or error is kept. */
export function loadLoop(port: number, workers = 4) {
  let ok = 0;
  let stopped = false;
  const failures: string[] = [];
  const worker = async () => {
    while (!stopped) {
      try {
        await callProduct(port);
        ok++;
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const running = Array.from({ length: workers }, worker);
  return {
    failures,
    ok: () => ok,
    /** Resolves once `n` more requests succeeded. */
    async more(n: number) {
      const target = ok + n;
      await eventually(() => {
        if (ok < target) throw new Error(`${ok}/${target} requests`);
      }, { timeoutMs: 30_000 });
    },
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}
