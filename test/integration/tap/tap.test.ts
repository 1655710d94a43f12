// `meshctl tap` over real sockets: a controller (static discovery, CA on) and
// two real sidecars, web → product. The CLI sees the requests its filter
// matches and no others; the filter runs in the sidecar (admin /tap); a
// reader that stops reading loses lines, counted, instead of growing memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { eventually } from '../../harness/eventually.ts';
import { TOKEN } from '../../harness/controller-harness.ts';
import { MESHCTL, startSmallMesh } from '../top/small-mesh.ts';
import { metricValue } from '../resilience/metric-value.ts';
import { closedPort } from '../../harness/upstream-servers.ts';

type T = { after(fn: () => Promise<void> | void): void };

/** meshctl tap as a child process; resolves when it exits. */
function tapCli(t: T, args: string[]) {
  const child = spawn(process.execPath, [MESHCTL, 'tap', ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  t.after(() => {
    child.kill();
    return exited.then(() => {});
  });
  return { exited, out: () => stdout, err: () => stderr, running: () => child.exitCode === null, interrupt: () => child.kill('SIGINT') };
}

/** A raw HTTP GET whose response body is read only when `resume()` is called. */
function slowReader(t: T, host: string, port: number, path: string, headers: Record<string, string> = {}) {
  const sock = connect(port, host);
  t.after(() => void sock.destroy());
  // HTTP/1.0: the body comes unchunked, so lines can be split on "\n" alone.
  sock.write(`GET ${path} HTTP/1.0\r\nhost: ${host}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  let text = '';
  sock.on('data', (d) => (text += d.toString('latin1')));
  const lines = () =>
    text
      .slice(text.indexOf('\r\n\r\n') + 4, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; count?: number; path?: string; proxy?: string });
  return {
    connected: () => /^HTTP\/1\.[01] 200/.test(text),
    pause: () => void sock.pause(),
    resume: () => void sock.resume(),
    lines,
  };
}

test('meshctl tap prints the requests its filter matches, and only those, from the service\'s sidecar', async (t) => {
  const mesh = await startSmallMesh(t);
  const tap = tapCli(t, ['product', '--status', '5xx', '--max', '3', '--json', ...mesh.cli]);
  await eventually(() => assert.match(tap.err(), /tapping product through 1 sidecar \(product-mesh\)/));
  // The stream to the sidecar opens just after that notice: send batches until the CLI has its three.
  await eventually(
    async () => {
      if (tap.running()) await mesh.batch(); // three 200s on /, one 503 on /fail
      assert.equal(await Promise.race([tap.exited, new Promise((r) => setTimeout(() => r('running'), 50))]), 0, tap.err());
    },
    { timeoutMs: 20_000, intervalMs: 10 },
  );
  const lines = tap.out().trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 3, tap.out());
  for (const r of lines) {
    assert.equal(r.type, 'request');
    assert.equal(r.status, 503, 'no 200 passes a --status 5xx filter');
    assert.equal(r.path, '/fail');
    assert.equal(r.method, 'GET');
    assert.equal(r.direction, 'inbound');
    assert.equal(r.service, 'product');
    assert.equal(r.source, 'web', 'the caller named by its mTLS certificate');
    assert.equal(r.destination, 'product');
    assert.equal(r.proxy, 'product-mesh');
    assert.match(r.traceId, /^[0-9a-f]{32}$/);
    assert.ok(r.latencyMs >= 0 && r.attempts >= 1, JSON.stringify(r));
  }

  // The readable form, stopped by --max; a path prefix and a method (any case) as the filter.
  const text = tapCli(t, ['product', '--path', '/fa', '--method', 'get', '--max', '2', ...mesh.cli]);
  await eventually(() => assert.match(text.err(), /tapping product/));
  await eventually(
    async () => {
      if (text.running()) await mesh.batch();
      assert.equal(text.running(), false);
    },
    { timeoutMs: 20_000, intervalMs: 10 },
  );
  assert.equal(await text.exited, 0, text.err());
  const shown = text.out().trim().split('\n');
  assert.equal(shown.length, 2, text.out());
  for (const l of shown) assert.match(l, /^\d\d:\d\d:\d\d\.\d{3} in  web → product GET \/fail 503 \d+(\.\d)?ms trace=[0-9a-f]{32}$/);
});

test('Ctrl-C ends a tap with exit 0; a bad filter or an unknown service exits 2; no controller, or losing it, exits 3', async (t) => {
  const mesh = await startSmallMesh(t);
  const live = tapCli(t, ['product', ...mesh.cli]);
  await eventually(() => assert.match(live.err(), /tapping product through 1 sidecar/));
  live.interrupt();
  assert.equal(await live.exited, 0, live.err());
  const away = tapCli(t, ['product', '--controller', `http://127.0.0.1:${await closedPort()}`, '--token', 'x']);
  assert.equal(await away.exited, 3);
  assert.match(away.err(), /cannot reach the controller/);
  const unknown = tapCli(t, ['nosuch', ...mesh.cli]);
  assert.equal(await unknown.exited, 2);
  assert.match(unknown.err(), /no service named "nosuch" \(known: product, web\)/);
  const badStatus = tapCli(t, ['product', '--status', 'bad', ...mesh.cli]);
  assert.equal(await badStatus.exited, 2);
  assert.match(badStatus.err(), /--status: a status class \(5xx\) or code \(404\)/);
  // The controller goes away under a running tap: said so, exit 3.
  const orphan = tapCli(t, ['product', ...mesh.cli]);
  await eventually(() => assert.match(orphan.err(), /tapping product/));
  await mesh.ctl.close();
  assert.equal(await orphan.exited, 3, orphan.err());
  assert.match(orphan.err(), /(lost|closed) the tap stream/);
});

test('a tap reader that stops reading loses lines, counted and reported, at the sidecar and at the controller', async (t) => {
  const mesh = await startSmallMesh(t);
  const proxyAdmin = mesh.ctl.core.hub.adminTargets().find((p) => p.proxyId === 'product-mesh')!.url;
  // One reader straight on the sidecar's admin /tap, one through the controller; both stop reading.
  const direct = slowReader(t, '127.0.0.1', Number(new URL(proxyAdmin).port), '/tap?path=/slow');
  const fanIn = slowReader(t, '127.0.0.1', Number(new URL(mesh.url).port), '/v1/tap/product?path=/slow', { authorization: `Bearer ${TOKEN}` });
  await eventually(async () => {
    assert.ok(direct.connected() && fanIn.connected());
    assert.ok(fanIn.lines().some((l) => l.type === 'tapping' && (l as { proxies?: string[] }).proxies?.length === 1));
  });
  direct.pause();
  fanIn.pause();
  // Long paths make long lines: more than the sidecar's and the controller's bounds plus the kernel's socket buffers.
  const long = `/slow/${'x'.repeat(12_000)}`;
  const send = async (n: number) => {
    for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: 20 }, () => mesh.get(long)));
  };
  let sent = 0;
  await eventually(
    async () => {
      await send(20);
      sent += 20;
      const m = await (await fetch(`${proxyAdmin}/metrics`)).text();
      assert.ok(metricValue(m, 'mesh_tap_dropped_total', {}) > 0, `no drop after ${sent} requests`);
    },
    { timeoutMs: 60_000, intervalMs: 0 },
  );
  // The controller's leg holds about as much as the sidecar's: as many again overflow it too.
  await send(sent);
  sent *= 2;
  // Sent everything it could: now read. What arrives plus what was reported dropped is every request.
  direct.resume();
  fanIn.resume();
  const total = (r: ReturnType<typeof slowReader>) => {
    const ls = r.lines();
    return { shown: ls.filter((l) => l.type === 'request').length, dropped: ls.filter((l) => l.type === 'dropped').reduce((n, l) => n + l.count!, 0) };
  };
  await eventually(() => {
    const d = total(direct);
    assert.ok(d.dropped > 0, 'the sidecar reported drops');
    assert.equal(d.shown + d.dropped, sent, JSON.stringify(d));
    const f = total(fanIn);
    assert.ok(f.dropped > 0, 'the controller reported drops');
    assert.equal(f.shown + f.dropped, sent, JSON.stringify(f));
  }, { timeoutMs: 20_000 });
  // Drops were lines not kept: fewer were delivered than sent, and the stream still works afterwards.
  assert.ok(total(direct).shown < sent);
});
