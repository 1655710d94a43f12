import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSampleApp } from '../../../src/cli/sample-app/start-sample-app.ts';

test('sample app: says who it is, fails and slows on request, calls out', async (t) => {
  const app = await startSampleApp({ port: 0, host: '127.0.0.1', name: 'payments', version: 'v2' });
  t.after(() => app.close());
  const base = `http://127.0.0.1:${app.port}`;
  const hello = (await (await fetch(`${base}/hello`)).json()) as Record<string, unknown>;
  assert.equal(hello.service, 'payments');
  assert.equal(hello.version, 'v2');
  assert.equal(hello.path, '/hello');
  assert.equal((await fetch(`${base}/ready`)).status, 200);
  assert.equal((await fetch(`${base}/fail?rate=1`)).status, 500);
  assert.equal((await fetch(`${base}/fail?rate=0`)).status, 200);
  const slow = (await (await fetch(`${base}/slow?ms=30`)).json()) as Record<string, unknown>;
  assert.equal(slow.delayedMs, 30);
  const call = (await (await fetch(`${base}/call?url=${encodeURIComponent(`${base}/inner`)}`)).json()) as { upstream: { status: number; body: string } };
  assert.equal(call.upstream.status, 200);
  assert.match(call.upstream.body, /"path":"\/inner"/);
  const bad = await fetch(`${base}/call?url=${encodeURIComponent('http://127.0.0.1:1/')}`);
  assert.equal(bad.status, 502);
});

test('sample app: --fail-rate 1 fails every request except readiness', async (t) => {
  const app = await startSampleApp({ port: 0, host: '127.0.0.1', name: 'x', failRate: 1 });
  t.after(() => app.close());
  assert.equal((await fetch(`http://127.0.0.1:${app.port}/`)).status, 500);
  assert.equal((await fetch(`http://127.0.0.1:${app.port}/ready`)).status, 200);
});
