// The same push channel over TLS: the controller serves HTTPS, the config
// client verifies it against a CA, and refuses a server it cannot verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../../harness/eventually.ts';
import { startController } from '../../../src/controller/start-controller.ts';
import { StaticDiscovery } from '../../../src/controller/discovery/static-discovery.ts';
import { MeshConfig } from '../../../src/shared/mesh-config.ts';
import { startConfigClient } from '../../../src/proxy/config-client.ts';
import { fakeProxy, loopbackWorkloads, tempDir, TOKEN, writeWorkloads } from '../../harness/controller-harness.ts';

test('snapshots and ACKs flow over TLS; an unverifiable controller is refused', async (t) => {
  const dir = tempDir(t);
  // A self-signed certificate for 127.0.0.1 (the CA work will issue real ones).
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=controller',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  writeWorkloads(join(dir, 'workloads.json'), loopbackWorkloads({ product: 8080, web: 8081 }));
  const ctl = await startController({
    project: 'tls', config: MeshConfig.parse({}), discovery: new StaticDiscovery(join(dir, 'workloads.json')),
    stateDir: join(dir, 'state'), listen: { host: '127.0.0.1', port: 0 }, token: TOKEN,
    tls: { key: readFileSync(join(dir, 'key.pem')), cert },
  });
  t.after(() => ctl.close());
  assert.match(ctl.url, /^https:/);

  const good = fakeProxy();
  const client = startConfigClient({ url: ctl.url, token: TOKEN, service: 'web', proxyId: 'web-mesh', handle: good, tls: { ca: cert } });
  t.after(() => client.close());
  await eventually(() => {
    const p = ctl.core.hub.status().find((p) => p.proxyId === 'web-mesh')!;
    assert.ok(p.inSync, JSON.stringify(p));
  });
  assert.equal(good.current()!.node.service, 'web');

  const untrusting = fakeProxy();
  const refused = startConfigClient({ url: ctl.url, token: TOKEN, service: 'product', proxyId: 'product-mesh', handle: untrusting, backoff: { baseMs: 20, maxMs: 100 } });
  t.after(() => refused.close());
  await eventually(() => assert.match(refused.state().lastError ?? '', /certificate/));
  assert.equal(untrusting.current(), undefined);
});
