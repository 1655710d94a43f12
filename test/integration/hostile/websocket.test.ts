// WebSocket upgrades that go wrong, at real proxies: an upgrade to a service
// the mesh does not know gets a clean 404 (logged) while a good WebSocket on
// the same proxy keeps echoing; a callee that closes before answering gets a
// clean 502 instead of a silent hang-up; and an upgrade crosses two sidecars
// over strict mTLS (the peer's inbound port refuses plaintext).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { eventually } from '../../harness/eventually.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';
import { calleeSnapshot, callerSnapshot, identityFor, meshCa, runProxy } from '../mtls/mtls-harness.ts';
import { raw, statusOf } from './hostile-harness.ts';

type T = { after(fn: () => unknown): void };

async function wsEchoApp(t: T): Promise<number> {
  const server = http.createServer((_req, res) => res.end('ok'));
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${m.toString()}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

async function openWs(t: T, url: string, host: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers: { host } });
  t.after(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

const echo = (ws: WebSocket, text: string) =>
  new Promise<string>((resolve) => {
    ws.once('message', (m) => resolve(m.toString()));
    ws.send(text);
  });

const UPGRADE = (host: string) => `GET /socket HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

test('WebSocket upgrade to an unknown service: 404 no-route and a close, logged; a WebSocket to a known one keeps echoing', async (t) => {
  const app = await wsEchoApp(t);
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'chat', match: { hosts: ['chat'] }, destinations: [{ cluster: 'chat' }] }])], [cluster('chat', [app])]));
  t.after(() => p.close());
  const good = await openWs(t, `ws://127.0.0.1:${p.port()}/socket`, 'chat');
  const [answer, reply] = await Promise.all([raw(p.port(), UPGRADE('nosuchservice')), echo(good, 'hi')]);
  assert.equal(statusOf(answer.text), 404, answer.text);
  assert.match(answer.text, /x-mesh-error: no-route/);
  assert.ok(answer.closed);
  assert.equal(reply, 'echo:hi');
  await eventually(() => assert.ok(p.logs().some((l) => l.protocol === 'upgrade' && String(l.error ?? '').startsWith('no-route'))));
  assert.equal(await echo(good, 'again'), 'echo:again');
});

test('WebSocket upgrade to an upstream that closes without answering: a clean 502 upstream-reset, logged', async (t) => {
  const mute = net.createServer((s) => s.once('data', () => s.end()));
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
  t.after(() => mute.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'mute', destinations: [{ cluster: 'mute' }] }])], [cluster('mute', [(mute.address() as net.AddressInfo).port])]));
  t.after(() => p.close());
  const answer = await raw(p.port(), UPGRADE('mute'));
  assert.equal(statusOf(answer.text), 502, answer.text);
  assert.match(answer.text, /x-mesh-error: upstream-reset/);
  await eventually(() => assert.ok(p.logs().some((l) => l.protocol === 'upgrade' && String(l.error ?? '').startsWith('upstream-reset'))));
});

test('WebSocket between two sidecars over strict mTLS: the upgrade is carried over TLS and echoes', async (t) => {
  const ca = await meshCa(t);
  const app = await wsEchoApp(t);
  const callee = await runProxy(t, calleeSnapshot('payments', app), await identityFor(t, ca, 'payments'));
  const caller = await runProxy(t, callerSnapshot('orders', 'payments', callee.port('in')), await identityFor(t, ca, 'orders'));
  const ws = await openWs(t, `ws://127.0.0.1:${caller.port('out')}/socket`, 'payments');
  assert.equal(await echo(ws, 'over mtls'), 'echo:over mtls');
  assert.ok(!callee.logs().some((l) => String(l.error ?? '').startsWith('plaintext-refused')), 'no plaintext reached the strict port');
});
