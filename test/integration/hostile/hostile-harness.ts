// Builders for the hostile-input tests: an upstream that records every request
// it gets, a proxy in front of it, raw bytes over a socket, and the "a normal
// request at the same time still works" check every test ends with.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { httpUpstream } from '../../harness/upstream-servers.ts';
import { cluster, httpListener, snapshot, startTestProxy } from '../../harness/proxy-builder.ts';

type T = { after(fn: () => Promise<void> | void): void };

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An upstream that answers "ok" and records what reached it, and a proxy routing every host to it. */
export async function recordingMesh(t: T) {
  const seen: Seen[] = [];
  const up = await httpUpstream((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('latin1')));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.end('ok');
    });
  });
  t.after(() => up.close());
  const p = await startTestProxy(snapshot([httpListener('out', [{ name: 'all', destinations: [{ cluster: 'app' }] }])], [cluster('app', [up.port])]));
  t.after(() => p.close());
  return { up, proxy: p, seen, port: p.port() };
}

/** Writes raw bytes, then collects what comes back until the proxy closes (or `waitMs` passes). */
export function raw(port: number, bytes: string | Buffer, { waitMs = 5000 } = {}): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => done(false), waitMs);
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('close', () => done(true));
    s.on('error', () => {});
    s.write(bytes);
  });
}

/** The status code of the first response in a raw answer (0 when none). */
export const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

/** A normal GET through the same proxy answers 200 "ok". */
export async function normalRequestWorks(port: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/normal`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'ok');
}
