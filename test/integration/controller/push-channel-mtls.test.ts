// The push channel over mTLS: the controller process serves subscribe + ack on
// a second listener (--push-listen) with a certificate from the mesh CA and
// requires client certificates from the same CA. A real proxy, with the leaf it
// got from the token-authenticated sign endpoint, subscribes and ACKs there;
// no certificate, a certificate from another CA, and a certificate for another
// service are refused; the proxy refuses a server that is not the controller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { spawn } from 'node:child_process';
import type { TLSSocket } from 'node:tls';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../../harness/eventually.ts';
import { controllerProcess } from '../../harness/controller-process.ts';
import { api, loopbackWorkloads, tempDir, TOKEN, writeWorkloads } from '../../harness/controller-harness.ts';
import { freePort } from '../../../src/cli/up/host-ports.ts';
import { CertAuthority } from '../../../src/controller/certs/cert-authority.ts';
import { startProxy } from '../../../src/proxy/proxy.ts';
import { startConfigClient } from '../../../src/proxy/config-client.ts';
import { identityFromController } from '../../../src/proxy/identity/controller-signer.ts';
import { createKeyAndCsr } from '../../../src/proxy/identity/create-key-and-csr.ts';
import { controllerPushTls } from '../../../src/proxy/identity/controller-push-tls.ts';
import { WorkloadIdentity } from '../../../src/proxy/identity/workload-identity.ts';

const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

type Outcome = { status: number; body: string } | { error: string };

/** One request to the push listener with the given client TLS material. */
function pushRequest(url: string, tls: https.RequestOptions, method = 'GET', body?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = https.request(url, { method, agent: false, minVersion: 'TLSv1.3', ...tls, ...(body ? { headers: { 'content-type': 'application/json' } } : {}) }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      // A subscription answers 200 and stays open: the status is enough.
      if (res.statusCode === 200) {
        req.destroy();
        return resolve({ status: 200, body: '' });
      }
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ error: `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}` }));
    req.end(body);
  });
}

test('proxies subscribe and ACK over mTLS; no cert, a foreign CA and a mismatched service are refused', async (t) => {
  const dir = tempDir(t);
  // Free ports, not 8080/8081: web's outbound listener binds product's port on loopback.
  const [productPort, webPort] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  writeFileSync(join(dir, 'mesh.config.json'), JSON.stringify({ services: { product: { ports: [productPort] } } }));
  writeWorkloads(join(dir, 'workloads.json'), loopbackWorkloads({ product: productPort, web: webPort }));
  const ctl = await controllerProcess(t, dir, await freePort('127.0.0.1'), ['--push-listen', '127.0.0.1:0', '--push-dns', 'mesh-controller']);
  assert.match(ctl.pushUrl ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
  const pushUrl = ctl.pushUrl!;
  const subscribeUrl = (service: string, proxyId: string) => `${pushUrl}/v1/push/subscribe?service=${service}&proxyId=${proxyId}`;

  // A real proxy: certificate from the bootstrap listener (token), push over mTLS.
  const web = await identityFromController({ url: ctl.url, bearer: TOKEN, service: 'web', timeoutMs: 10_000 });
  t.after(() => web.close());
  const proxy = await startProxy({ admin: { host: '127.0.0.1', port: 0 }, accessLog: { write: () => true } as unknown as NodeJS.WritableStream, identity: web });
  t.after(() => proxy.close());
  const client = startConfigClient({ url: pushUrl, token: 'not-needed-on-mtls', service: 'web', proxyId: 'web-mesh', handle: proxy, tls: controllerPushTls(web), backoff: { baseMs: 20, maxMs: 300 } });
  t.after(() => client.close());
  await eventually(async () => {
    const p = (await api(ctl.url, 'GET', '/v1/proxies')).body.proxies.find((p: any) => p.proxyId === 'web-mesh');
    assert.ok(p?.connected && p.inSync, JSON.stringify(p));
  });
  assert.equal(proxy.current()!.node.service, 'web');
  assert.equal(client.state().applied, 1);

  const bundle = web.current().trustBundlePem;
  // No client certificate: the TLS 1.3 handshake is refused (certificate required).
  const noCert = await pushRequest(subscribeUrl('web', 'web-x'), { ca: bundle, servername: 'localhost' });
  assert.ok('error' in noCert, JSON.stringify(noCert));

  // A certificate for the same SPIFFE id, signed by another CA: refused.
  const other = await CertAuthority.open({ stateDir: join(dir, 'other'), project: 'it' });
  const { keyPem, csrPem } = await createKeyAndCsr('web');
  const foreign = await other.sign({ csrPem, service: 'web' });
  const foreignOutcome = await pushRequest(subscribeUrl('web', 'web-x'), { ca: bundle, servername: 'localhost', key: keyPem, cert: foreign.certChainPem });
  assert.ok('error' in foreignOutcome, JSON.stringify(foreignOutcome));

  // A certificate for product, subscribing (and ACKing) as web: 403 with the reason.
  const product = await identityFromController({ url: ctl.url, bearer: TOKEN, service: 'product', timeoutMs: 10_000 });
  t.after(() => product.close());
  const productTls = { ca: bundle, servername: 'localhost', key: product.current().keyPem, cert: product.current().certChainPem };
  const spoof = await pushRequest(subscribeUrl('web', 'web-mesh'), productTls);
  assert.equal('status' in spoof && spoof.status, 403, JSON.stringify(spoof));
  assert.match((spoof as { body: string }).body, /certificate is for service \\?"product\\?", not \\?"web/);
  const ack = JSON.stringify({ service: 'web', proxyId: 'web-mesh', version: 1, hash: 'x', ok: false, error: 'forged' });
  const spoofAck = await pushRequest(`${pushUrl}/v1/push/ack`, productTls, 'POST', ack);
  assert.equal('status' in spoofAck && spoofAck.status, 403, JSON.stringify(spoofAck));
  const spoofClient = startConfigClient({ url: pushUrl, token: 'x', service: 'web', proxyId: 'web-mesh-2', handle: { current: () => undefined, apply: async () => assert.fail('no snapshot for a refused subscriber') }, tls: controllerPushTls(product), backoff: { baseMs: 20, maxMs: 100 } });
  t.after(() => spoofClient.close());
  await eventually(() => assert.match(spoofClient.state().lastError ?? '', /403/));
  // The same certificate, claiming its own service, is served.
  assert.equal(((await pushRequest(subscribeUrl('product', 'product-mesh'), productTls)) as { status: number }).status, 200);
  // The genuine web proxy is still in sync: the forged NACK went nowhere.
  assert.ok((await api(ctl.url, 'GET', '/v1/proxies')).body.proxies.find((p: any) => p.proxyId === 'web-mesh').inSync);

  // The proxy checks the controller's identity: a server with a valid mesh leaf that is
  // not the controller's (here product's) is refused.
  const impostor = https.createServer({ key: product.current().keyPem, cert: product.current().certChainPem, minVersion: 'TLSv1.3' }, (_req, res) => res.end());
  await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => impostor.close(() => r())));
  const fooled = startConfigClient({ url: `https://127.0.0.1:${(impostor.address() as { port: number }).port}`, token: 'x', service: 'web', proxyId: 'web-mesh-3', handle: { current: () => undefined, apply: async () => assert.fail('no snapshot from an impostor') }, tls: controllerPushTls(web), backoff: { baseMs: 20, maxMs: 100 } });
  t.after(() => fooled.close());
  await eventually(() => assert.match(fooled.state().lastError ?? '', /expected spiffe:\/\/mesh\.local\/compose\/it\/controller/));
});

test('a sidecar process (meshctl proxy --controller) with MESH_CONTROLLER_PUSH_URL subscribes over mTLS and ACKs', async (t) => {
  const dir = tempDir(t);
  const [productPort, webPort] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  writeFileSync(join(dir, 'mesh.config.json'), JSON.stringify({ services: { product: { ports: [productPort] } } }));
  // The sidecar's proxy id is its hostname (the container id under Docker): discovery must know it.
  const sidecar = { id: hostname(), service: 'web', role: 'proxy' as const, addresses: { mesh: '127.0.10.5', 'web-net': '127.0.10.6' } };
  writeWorkloads(join(dir, 'workloads.json'), loopbackWorkloads({ product: productPort, web: webPort }, [sidecar]));
  const ctl = await controllerProcess(t, dir, await freePort('127.0.0.1'), ['--push-listen', '127.0.0.1:0']);
  const adminPort = await freePort('127.0.0.1');
  const child = spawn(process.execPath, [main, 'proxy', '--controller', ctl.url, '--admin', `127.0.0.1:${adminPort}`], {
    env: { ...process.env, MESH_SERVICE: 'web', MESH_BOOTSTRAP_TOKEN: TOKEN, MESH_TOKEN: '', MESH_CONTROLLER_PUSH_URL: ctl.pushUrl! },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (c) => (log += c));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await eventually(async () => {
    const p = (await api(ctl.url, 'GET', '/v1/proxies')).body.proxies.find((p: any) => p.proxyId === hostname());
    assert.ok(p?.connected && p.inSync, `${JSON.stringify(p)}\n${log}`);
  }, { timeoutMs: 20_000 });
  assert.match(log, new RegExp(`"msg":"subscribing to the controller","controller":"${ctl.pushUrl!.replace(/\./g, '\\.')}","mtls":true`));
  assert.equal((await fetch(`http://127.0.0.1:${adminPort}/ready`)).status, 200);
});

test('after a certificate rotation the next push connection presents the new leaf', async (t) => {
  const dir = tempDir(t);
  const ca = await CertAuthority.open({ stateDir: join(dir, 'state'), project: 'it' });
  const leaf = async () => {
    const { keyPem, csrPem } = await createKeyAndCsr('web');
    const r = await ca.sign({ csrPem, service: 'web' });
    return WorkloadIdentity.fromPem({ certChainPem: r.certChainPem, keyPem, trustBundlePem: r.trustBundlePem });
  };
  const [first, second] = [await leaf(), await leaf()];
  let current = first;
  // Stands in for the controller's push listener: same kind of certificate, records each client leaf, answers 503.
  const own = await ca.issueControllerCert(['localhost']);
  const seen: string[] = [];
  const server = https.createServer({ key: own.keyPem, cert: own.certPem, ca: ca.trustBundlePem(), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (req, res) => {
    seen.push((req.socket as TLSSocket).getPeerCertificate().serialNumber.toLowerCase());
    res.writeHead(503).end('not yet');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const client = startConfigClient({ url: `https://127.0.0.1:${(server.address() as { port: number }).port}`, token: 'x', service: 'web', proxyId: 'web-mesh',
    handle: { current: () => undefined, apply: async () => assert.fail('no snapshot expected') }, tls: controllerPushTls({ current: () => current.current() }), backoff: { baseMs: 10, maxMs: 50 } });
  t.after(() => client.close());
  await eventually(() => assert.ok(seen.includes(first.current().serial)));
  current = second;
  await eventually(() => assert.equal(seen.at(-1), second.current().serial));
});
