// Requests are counted by the version of the endpoint that served them, which
// canary analysis and the dashboard's version rows read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpUpstream, echoHandler } from '../../harness/upstream-servers.ts';
import { request } from '../../harness/http-client.ts';
import { httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';

test('request metrics and access logs carry the serving endpoint version', async (t) => {
  const stable = await httpUpstream(echoHandler('stable'));
  const canary = await httpUpstream(echoHandler('canary'));
  t.after(() => Promise.all([stable.close(), canary.close()]));
  const endpoint = (port: number, version: string) => ({ address: '127.0.0.1', port, labels: { version } });
  const p = await startTestProxy(
    snapshot(
      [httpListener('in', [{ name: 'split', service: 'payments', destinations: [{ cluster: 'in-v1', weight: 1 }, { cluster: 'in-v2', weight: 1 }] }], { direction: 'inbound' })],
      [
        { name: 'in-v1', service: 'payments', endpoints: [endpoint(stable.port, 'v1')] },
        { name: 'in-v2', service: 'payments', endpoints: [endpoint(canary.port, 'v2')] },
      ],
    ),
  );
  t.after(() => p.close());
  for (let i = 0; i < 40; i++) assert.equal((await request(p.port())).status, 200);

  const metrics = await (await fetch(`http://127.0.0.1:${p.adminPort()}/metrics`)).text();
  const count = (version: string) => {
    const line = metrics.split('\n').find((l) => l.startsWith('mesh_requests_total{') && l.includes(`destination_version="${version}"`));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  assert.ok(count('v1') > 0 && count('v2') > 0, `both versions counted:\n${metrics}`);
  assert.equal(count('v1') + count('v2'), 40);
  const versions = new Set(p.logs().map((l) => l.version));
  assert.deepEqual([...versions].sort(), ['v1', 'v2']);
});
