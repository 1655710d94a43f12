// An upstream that accepts and never answers, under steady load through a
// real proxy process: every request must end in the proxy's own timeout, the
// connections it holds upstream must stay bounded, and its memory flat.
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { cluster, httpListener, snapshot } from '../test/harness/proxy-builder.ts';
import { startProxyProcess } from '../test/integration/hostile/proxy-process.ts';
import { eventually } from '../test/harness/eventually.ts';
import { figures, startLoad } from './load.ts';
import { check, verdict, type RunOptions, type ScenarioResult } from './scenario.ts';

const REQUEST_MS = 500;
const HEAP_MB = 64;
const RSS_CAP_MB = 256;

export async function upstreamHangs(opts: RunOptions): Promise<ScenarioResult> {
  const held = new Set<net.Socket>();
  let peakHeld = 0;
  const hang = net.createServer((s) => {
    held.add(s);
    peakHeld = Math.max(peakHeld, held.size);
    s.on('error', () => {});
    s.on('close', () => held.delete(s));
    s.resume(); // reads the request, never answers
  });
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  const hangPort = (hang.address() as net.AddressInfo).port;
  const proxy = await startProxyProcess(
    snapshot([httpListener('out', [{ name: 'hang', match: { hosts: ['hang'] }, destinations: [{ cluster: 'hang' }], timeouts: { requestMs: REQUEST_MS } }])], [cluster('hang', [hangPort])]),
    // V8 lets garbage pile up to well over 100 MB before a major GC (RSS then drops back): capping the old
    // space makes "bounded" testable in a minute — anything retained per request would crash the proxy.
    { heapMb: HEAP_MB },
  );
  const rate = opts.quick ? 100 : 200;
  const seconds = opts.quick ? 8 : 60;
  const rss: number[] = [];
  const heldOverTime: number[] = [];
  try {
    const load = startLoad({
      base: `http://127.0.0.1:${proxy.port}`,
      paths: ['/slow'],
      rate,
      headers: { host: 'hang' },
      timeoutMs: REQUEST_MS + 5000,
      expect: { status: 504, meshErrorPrefix: 'timeout' },
      // rate × timeout requests are open at any time: the client must not queue them itself.
      connections: 512,
    });
    const t0 = Date.now();
    while (Date.now() - t0 < seconds * 1000) {
      await sleep(500);
      rss.push(proxy.rss());
      heldOverTime.push(held.size);
    }
    const samples = await load.stop();
    const f = figures(samples);
    const slowest = samples.reduce((m, s) => Math.max(m, s.end - s.start), 0);
    const peakMb = Math.max(...rss) / 2 ** 20;
    const alive = proxy.child.exitCode === null && proxy.child.signalCode === null;
    // Each request holds one upstream connection for at most REQUEST_MS, then the proxy must let it go.
    const bound = Math.ceil((rate * REQUEST_MS) / 1000) * 2 + 20;
    const logged = () => proxy.logs().filter((l) => String(l.error ?? '').startsWith('timeout')).length;
    // The access log is the proxy's stdout: give the last lines a moment to arrive.
    await eventually(() => assert.ok(logged() >= f.sent - f.failed), { timeoutMs: 5000 }).catch(() => {});
    const timedOutLogged = logged();
    return verdict({
      id: 'upstream-hangs',
      title: 'an upstream that accepts and never answers (route timeout 500 ms)',
      level: 'integration (loopback)',
      load: { rate, seconds, what: 'GET through a proxy process to the hanging upstream' },
      figures: f,
      promise: `every request ends in the proxy's 504 \`timeout\` within 500 ms + 1 s; upstream connections held ≤ ${bound} (2 × rate × timeout + 20); memory bounded: the proxy, its old space capped at ${HEAP_MB} MB, stays up with RSS under ${RSS_CAP_MB} MB`,
      checks: [
        check("every request got the proxy's 504 timeout", f.failed === 0, `${f.sent - f.failed}/${f.sent}`),
        check('each within 1.5 s', slowest <= REQUEST_MS + 1000, `slowest ${slowest} ms`),
        check('upstream connections bounded', peakHeld <= bound, `peak ${peakHeld}, last ${heldOverTime.at(-1)}`),
        check(`proxy alive with its old space capped at ${HEAP_MB} MB`, alive, alive ? 'alive' : `exited ${proxy.child.exitCode ?? proxy.child.signalCode}: ${proxy.stderr().slice(-300)}`),
        check(`RSS under ${RSS_CAP_MB} MB`, peakMb <= RSS_CAP_MB, `peak ${peakMb.toFixed(0)} MB`),
        check('timeouts logged', timedOutLogged >= f.sent - f.failed, `${timedOutLogged} access-log lines with error timeout`),
      ],
      notes: [`RSS every 0.5 s (MB): ${rss.map((b) => (b / 2 ** 20).toFixed(0)).join(' ')}`],
    });
  } finally {
    await proxy.close();
    for (const s of held) s.destroy();
    await new Promise<void>((r) => hang.close(() => r()));
  }
}
