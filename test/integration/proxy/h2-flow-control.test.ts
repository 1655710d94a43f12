// HTTP/2 sessions the proxy opens (to an http2 cluster) and accepts (h2c
// clients) announce 1 MiB stream windows and open a 16 MiB connection window,
// so one session between sidecars is not capped at 64 KiB per round trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { http2Upstream } from '../../harness/upstream-servers.ts';
import { startTestProxy, snapshot, httpListener, cluster } from '../../harness/proxy-builder.ts';
import { eventually } from '../../harness/eventually.ts';

const MiB = 1 << 20;

test('h2 sessions to an upstream and from a client use 1 MiB stream and 16 MiB connection windows', async (t) => {
  const seen: { initialWindowSize?: number; windowToUpstream?: number } = {};
  const up = await http2Upstream((stream) => {
    const session = stream.session!;
    seen.initialWindowSize = session.remoteSettings.initialWindowSize;
    // What the proxy's session lets this upstream send before a WINDOW_UPDATE.
    seen.windowToUpstream = session.state.remoteWindowSize;
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'all', destinations: [{ cluster: 'up' }] }])], [cluster('up', [up.port], { protocol: 'http2' })]));
  t.after(() => p.close());
  const client = http2.connect(`http://127.0.0.1:${p.port()}`);
  t.after(() => client.close());
  const res = await new Promise<number>((resolve, reject) => {
    const s = client.request({ ':path': '/' });
    s.on('response', (h) => resolve(Number(h[':status'])));
    s.on('error', reject);
    s.resume();
  });
  assert.equal(res, 200);
  assert.equal(seen.initialWindowSize, MiB, 'proxy → upstream session: SETTINGS_INITIAL_WINDOW_SIZE');
  assert.ok((seen.windowToUpstream ?? 0) >= 15 * MiB, `proxy → upstream connection window: ${seen.windowToUpstream}`);
  // The proxy's listener session toward this client: same settings.
  await eventually(() => assert.equal(client.remoteSettings.initialWindowSize, MiB));
  await eventually(() => assert.ok((client.state.remoteWindowSize ?? 0) >= 15 * MiB, `listener connection window: ${client.state.remoteWindowSize}`));
});
