// Long-lived connections stay on the version they started on: a WebSocket and
// a streamed response (an HTTP/2 stream between the sidecars, over mTLS) opened
// while the canary has 0 % keep talking to v1 after the weight moves to 100 %,
// while every new request, and a new WebSocket, goes to v2. Real controller,
// real proxies, web's sidecar → product's sidecar → apps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { WebSocket } from 'ws';
import { eventually } from '../../harness/eventually.ts';
import { api } from '../../harness/controller-harness.ts';
import { startCanaryMesh } from './canary-mesh.ts';

test('a WebSocket and a streamed response opened before a weight change stay on their version; new requests follow the weights', { timeout: 60_000 }, async (t) => {
  const mesh = await startCanaryMesh(t);
  const ctl = mesh.first;
  const r = await api(ctl.url, 'POST', '/v1/canary', { service: 'product', version: 'v2', steps: [0, 100], intervalMs: 60_000 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await mesh.inSync(ctl.url);

  // From web's app, through web's outbound listener (host product).
  const openWs = async () => {
    const ws = new WebSocket(`ws://127.0.10.3:${mesh.port}/chat`, { headers: { host: 'product' } });
    t.after(() => ws.terminate());
    const messages: string[] = [];
    ws.on('message', (m) => messages.push(m.toString()));
    await new Promise((ok, fail) => {
      ws.once('open', ok);
      ws.once('error', fail);
    });
    await eventually(() => assert.equal(messages.length, 1));
    return { ws, messages };
  };
  const old = await openWs();
  assert.equal(old.messages[0], 'v1');
  const lines: string[] = [];
  const stream = http.get({ host: '127.0.10.3', port: mesh.port, path: '/stream', headers: { host: 'product' } });
  t.after(() => stream.destroy());
  const res = await new Promise<http.IncomingMessage>((ok, fail) => stream.once('response', ok).once('error', fail));
  assert.equal(res.headers['x-version'], 'v1');
  res.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));

  // Everything new goes to the canary.
  assert.equal((await api(ctl.url, 'PUT', '/v1/canary/product/weight', { weight: 100 })).status, 200);
  assert.deepEqual(await mesh.pushedWeights(ctl.url), { v2: 100 });
  await mesh.inSync(ctl.url);
  assert.equal((await mesh.load(100)).share, 1);
  const fresh = await openWs();
  assert.equal(fresh.messages[0], 'v2');

  // The connections opened before still reach v1, both ways.
  const seen = lines.length;
  old.ws.send('still there?');
  await eventually(() => assert.deepEqual(old.messages.slice(1), ['v1:still there?']));
  await eventually(() => assert.ok(lines.length >= seen + 5, 'the stream keeps flowing'));
  assert.ok(lines.every((l) => l === 'v1'), `the stream stayed on v1: ${[...new Set(lines)]}`);
  fresh.ws.send('hi');
  await eventually(() => assert.deepEqual(fresh.messages.slice(1), ['v2:hi']));
});
