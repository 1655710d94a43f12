// The controller as a process (static discovery) runs the mesh CA; real
// proxies get their certificates over POST /v1/certs/sign and talk mTLS to
// each other. The CA lives under the state dir with mode 0600, survives a
// restart, and `meshctl certs` lists what it issued.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, request } from 'node:http';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from '../../harness/eventually.ts';
import { controllerProcess } from '../../harness/controller-process.ts';
import { freePort } from '../../../src/cli/up/host-ports.ts';
import { startProxy } from '../../../src/proxy/proxy.ts';
import { startConfigClient } from '../../../src/proxy/config-client.ts';
import { identityFromController } from '../../../src/proxy/identity/controller-signer.ts';
import { createKeyAndCsr } from '../../../src/proxy/identity/create-key-and-csr.ts';
import { api, callProduct, loopbackWorkloads, tempDir, TOKEN, writeWorkloads } from '../../harness/controller-harness.ts';
import { metricValue } from './mtls-harness.ts';

const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

test('proxies obtain certificates from the controller process and talk mTLS; meshctl certs lists them', async (t) => {
  const dir = tempDir(t);
  const port = await freePort('127.0.20.1');
  const seen: (string | undefined)[] = [];
  const appServer = createServer((req, res) => {
    seen.push(req.headers['x-mesh-peer-identity'] as string | undefined);
    res.end('product');
  });
  await new Promise<void>((r) => appServer.listen(port, '127.0.20.1', r));
  t.after(() => new Promise<void>((r) => appServer.close(() => r())));
  writeFileSync(join(dir, 'mesh.config.json'), JSON.stringify({ services: { product: { ports: [port] } } }));
  writeWorkloads(join(dir, 'workloads.json'), loopbackWorkloads({ product: port, web: port }).filter((w) => w.id !== 'web-app'));
  const ctl = await controllerProcess(t, dir, await freePort('127.0.0.1'));

  // The CA key is on disk, owner-only.
  assert.equal(statSync(join(dir, 'state', 'ca', 'root.key.pem')).mode & 0o777, 0o600);

  // The sign endpoint refuses a caller with neither the bootstrap token nor the service's token.
  const { csrPem } = await createKeyAndCsr('product');
  const refused = await api(ctl.url, 'POST', '/v1/certs/sign', { csrPem, service: 'product', token: 'wrong' }, 'not-the-token');
  assert.equal(refused.status, 403);
  assert.equal(refused.body.code, 'MESH_ERR_SIGN_UNAUTHORIZED');

  const proxies = await Promise.all(['web', 'product'].map(async (service) => {
    const identity = await identityFromController({ url: ctl.url, bearer: TOKEN, service, timeoutMs: 10_000 });
    t.after(() => identity.close());
    const handle = await startProxy({ admin: { host: '127.0.0.1', port: 0 }, accessLog: { write: () => true } as unknown as NodeJS.WritableStream, identity });
    t.after(() => handle.close());
    const client = startConfigClient({ url: ctl.url, token: TOKEN, service, proxyId: `${service}-mesh`, handle, backoff: { baseMs: 20, maxMs: 300 } });
    t.after(() => client.close());
    return { service, identity, handle };
  }));

  // The snapshots say mTLS: product's inbound is strict, web's cluster to product originates TLS.
  const productSnap = (await api(ctl.url, 'GET', '/v1/snapshots/product-mesh')).body;
  assert.deepEqual(productSnap.listeners.find((l: any) => l.name === `in:${port}`).tls, { mode: 'strict' });
  const webSnap = (await api(ctl.url, 'GET', '/v1/snapshots/web-mesh')).body;
  assert.deepEqual(webSnap.clusters.find((c: any) => c.name === `out:product:${port}`).tls, { enabled: true, spiffeId: 'spiffe://mesh.local/compose/it/svc/product' });

  assert.equal(await eventually(() => callProduct(port, { 'x-mesh-peer-identity': 'spiffe://forged' })), 'product');
  assert.equal(seen.at(-1), 'spiffe://mesh.local/compose/it/svc/web');
  const m = await (await fetch(`http://127.0.0.1:${proxies[1]!.handle.adminAddress()!.port}/metrics`)).text();
  assert.ok(metricValue(m, 'mesh_tls_inbound_connections_total', { outcome: 'mtls' }) >= 1);
  assert.ok(metricValue(m, 'mesh_requests_total', { direction: 'inbound', source_service: 'web' }) >= 1);

  // Plaintext straight to product's sidecar (skipping web's) is refused: strict.
  await assert.rejects(
    new Promise((resolve, reject) => request({ host: '127.0.20.2', port, path: '/', headers: { host: 'product' } }, resolve).on('error', reject).end()),
  );

  // GET /v1/certs and `meshctl certs --json` list both services with the serial each proxy holds.
  const certs = await api(ctl.url, 'GET', '/v1/certs');
  assert.equal(certs.status, 200);
  for (const p of proxies) {
    const row = certs.body.services.find((s: any) => s.service === p.service);
    assert.equal(row.serial, p.identity.current().serial);
    assert.equal(row.spiffeId, `spiffe://mesh.local/compose/it/svc/${p.service}`);
  }
  const cli = spawnSync(process.execPath, [main, 'certs', '--json', '--controller', ctl.url, '--token', TOKEN], { encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  const listed = JSON.parse(cli.stdout);
  assert.deepEqual(listed.services.map((s: any) => s.service), ['product', 'web']);
  assert.match(listed.services[0].issuer, /CN=/);
  const table = spawnSync(process.execPath, [main, 'certs', '--controller', ctl.url, '--token', TOKEN], { encoding: 'utf8' });
  assert.match(table.stdout, /product\s+spiffe:\/\/mesh\.local\/compose\/it\/svc\/product\s+[0-9a-f]+/);
});
