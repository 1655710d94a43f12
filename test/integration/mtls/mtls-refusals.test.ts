// Strict mode refuses every client that cannot prove a mesh identity: no
// certificate, a certificate from another CA, an expired certificate, and
// plaintext. Each refusal is counted with its reason. Permissive mode serves
// plaintext and counts it, so users see who still sends it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import http from 'node:http';
import { eventually } from '../../harness/eventually.ts';
import { calleeSnapshot, echoApp, identityFor, meshCa, metricValue, runProxy } from './mtls-harness.ts';

async function strictCallee(t: Parameters<typeof meshCa>[0], mode: 'strict' | 'permissive' = 'strict') {
  const ca = await meshCa(t);
  const id = await identityFor(t, ca, 'payments');
  const app = await echoApp(t);
  const callee = await runProxy(t, calleeSnapshot('payments', app.port, { mode }), id);
  return { ca, id, app, callee };
}

/** A TLS 1.3 client with the given material; resolves with how the exchange ended. */
function tryTls(port: number, opts: tls.ConnectionOptions): Promise<'served' | string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, minVersion: 'TLSv1.3', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...opts }, () => {
      s.write('GET / HTTP/1.1\r\nhost: payments\r\nconnection: close\r\n\r\n');
    });
    let data = '';
    s.on('data', (d) => (data += d));
    s.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
    s.on('close', () => resolve(data.startsWith('HTTP/1.1 200') ? 'served' : `closed ${data.slice(0, 40)}`));
  });
}

async function expectRefused(callee: Awaited<ReturnType<typeof runProxy>>, reason: RegExp) {
  await eventually(async () => {
    const m = await callee.metrics();
    assert.equal(metricValue(m, 'mesh_tls_inbound_connections_total', { outcome: 'handshake_failed' }), 1);
    assert.equal(metricValue(m, 'mesh_tls_inbound_connections_total', { outcome: 'mtls' }), 0);
    const line = m.split('\n').find((l) => l.startsWith('mesh_tls_handshake_failures_total{'));
    assert.ok(line && reason.test(line), String(line));
  });
}

test('strict: a client with no certificate is refused and counted', async (t) => {
  const { app, callee } = await strictCallee(t);
  const r = await tryTls(callee.port('in'), {});
  assert.notEqual(r, 'served');
  await expectRefused(callee, /PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED/);
  assert.equal(app.seen.length, 0);
});

test('strict: a client with a certificate from another CA is refused and counted', async (t) => {
  const { app, callee } = await strictCallee(t);
  const other = await meshCa(t); // same names, different root
  const intruder = await identityFor(t, other, 'orders');
  const m = intruder.current();
  const r = await tryTls(callee.port('in'), { key: m.keyPem, cert: m.certChainPem });
  assert.notEqual(r, 'served');
  await expectRefused(callee, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED|unknown ca/i);
  assert.equal(app.seen.length, 0);
});

test('strict: a client with an expired certificate is refused and counted', async (t) => {
  const { ca, app, callee } = await strictCallee(t);
  // The callee's own root signs a leaf that ended a day ago: reopen its state dir with a clock two days back.
  const dayMs = 24 * 3600_000;
  const { CertAuthority } = await import('../../../src/controller/certs/cert-authority.ts');
  const oldCa = await CertAuthority.open({ stateDir: ca.stateDir, project: 'shop', now: () => Date.now() - 2 * dayMs, leafTtlMs: dayMs });
  const { createKeyAndCsr } = await import('../../../src/proxy/identity/create-key-and-csr.ts');
  const { keyPem, csrPem } = await createKeyAndCsr('orders');
  const leaf = await oldCa.sign({ csrPem, service: 'orders' });
  assert.ok(new Date(leaf.notAfter).getTime() < Date.now());
  const r = await tryTls(callee.port('in'), { key: keyPem, cert: leaf.certChainPem });
  assert.notEqual(r, 'served');
  await expectRefused(callee, /CERT_HAS_EXPIRED/);
  assert.equal(app.seen.length, 0);
  // The log names the certificate's validity window and the local clock (clock drift is the usual cause).
  await eventually(() => {
    const refused = callee.logs().find((l) => String(l.error ?? '').startsWith('tls-refused'));
    assert.match(String(refused?.error), new RegExp(`to ${leaf.notAfter.replace(/\./g, '\\.')}.*local clock is \\d{4}-`));
  });
});

test('strict: a client with a valid mesh certificate is served (the refusals above are about the certificate)', async (t) => {
  const { ca, callee } = await strictCallee(t);
  const orders = await identityFor(t, ca, 'orders');
  const m = orders.current();
  assert.equal(await tryTls(callee.port('in'), { key: m.keyPem, cert: m.certChainPem, ca: m.trustBundlePem }), 'served');
});

test('permissive: plaintext is served and counted as plaintext; mTLS still works', async (t) => {
  const { ca, app, callee } = await strictCallee(t, 'permissive');
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: callee.port('in'), path: '/plain', headers: { host: 'payments', 'x-mesh-peer-identity': 'spiffe://forged' }, agent: false }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
  // Plaintext has no verified identity: the forged header is stripped, none is set.
  assert.deepEqual(JSON.parse(body), { path: '/plain', peer: null });
  const orders = await identityFor(t, ca, 'orders');
  const m = orders.current();
  assert.equal(await tryTls(callee.port('in'), { key: m.keyPem, cert: m.certChainPem, ca: m.trustBundlePem }), 'served');
  await eventually(async () => {
    const text = await callee.metrics();
    assert.equal(metricValue(text, 'mesh_tls_inbound_connections_total', { outcome: 'plaintext' }), 1);
    assert.equal(metricValue(text, 'mesh_tls_inbound_connections_total', { outcome: 'mtls' }), 1);
    assert.equal(metricValue(text, 'mesh_requests_total', { direction: 'inbound', source_service: 'unknown' }), 1);
    assert.equal(metricValue(text, 'mesh_requests_total', { direction: 'inbound', source_service: 'orders' }), 1);
  });
  assert.equal(app.seen.length, 2);
});
