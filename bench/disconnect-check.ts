// Does a client that disconnects mid-response leave an upstream connection
// stuck? N clients each read the first chunk of an endless /slow response
// through the chain and then close their socket; we count the Node upstream's
// open connections before and after (a known way Node proxies wedge: the
// upstream request is never aborted and keeps streaming into the proxy).
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessGroup } from './lib/process-group.ts';
import { buildChain } from './run-scenario.ts';
import { HopUnavailable } from './hops/hop.ts';
import type { Scenario } from './scenarios.ts';
import type { Upstream } from './upstream/start-upstream.ts';

export interface DisconnectResult {
  id: string;
  label: string;
  status: 'ok' | 'unavailable' | 'failed';
  reason?: string;
  aborted?: number;
  reachedUpstream?: number;
  openBefore?: number;
  /** Upstream connections still open after the grace period: the stuck ones. */
  stuck?: number;
  /** How long until the upstream's count settled, ms. */
  settledMs?: number;
}

const GRACE_MS = 3000;

export async function runDisconnectCheck(s: Scenario, n: number, upstream: Upstream, procs: ProcessGroup, tmpDir: string): Promise<DisconnectResult> {
  const r: DisconnectResult = { id: s.id, label: s.label, status: 'ok' };
  const mark = procs.mark();
  try {
    const stats = upstream.openSockets!;
    const { entry } = await buildChain(s, upstream.address, procs, tmpDir);
    const before = await stats();
    r.openBefore = before.open;
    await Promise.all(Array.from({ length: n }, () => abortAfterFirstChunk(`http://${entry.host}:${entry.port}/slow`)));
    r.aborted = n;
    const t0 = Date.now();
    let now = await stats();
    while (now.open > before.open && Date.now() - t0 < GRACE_MS) {
      await sleep(50);
      now = await stats();
    }
    r.settledMs = Date.now() - t0;
    r.reachedUpstream = now.slowStarted - before.slowStarted;
    r.stuck = Math.max(0, now.open - before.open);
  } catch (err) {
    r.status = err instanceof HopUnavailable ? 'unavailable' : 'failed';
    r.reason = (err as Error).message;
  } finally {
    await procs.stopSince(mark);
  }
  return r;
}

function abortAfterFirstChunk(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        req.destroy();
        reject(new Error(`GET /slow through the chain answered ${res.statusCode}`));
        return;
      }
      res.once('data', () => {
        req.destroy(); // the client goes away mid-response
        resolve();
      });
    });
    req.setTimeout(5000, () => req.destroy(new Error('no first chunk within 5 s')));
    req.on('error', reject); // no-op once resolved
  });
}
