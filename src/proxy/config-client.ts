// The proxy's side of the push channel: subscribe to the controller with this
// proxy's service, id and current hash; apply each snapshot that arrives
// (handle.apply validates, compiles and swaps); answer ACK or NACK with the
// reason. When the controller goes away the proxy keeps its last good
// snapshot (static stability) and resubscribes with jittered backoff.
import type { ClientRequest } from 'node:http';
import { http } from './node-http.ts';
import https from 'node:https';
import type { PeerCertificate } from 'node:tls';
import type { ProxyHandle } from './proxy-handle.ts';
import { PushMessage, type AckMessage } from '../shared/api.ts';
import { backoffMs } from './clusters/backoff.ts';

export interface ConfigClientOptions {
  /** Controller base URL, e.g. http://controller:15010 (https once mTLS is on). */
  url: string;
  /** Bootstrap token from the sidecar's compose definition. */
  token: string;
  service: string;
  proxyId: string;
  handle: Pick<ProxyHandle, 'apply' | 'current'> & Partial<Pick<ProxyHandle, 'adminAddress'>>;
  /** Admin address to report for the metrics scrape; default: handle.adminAddress(). */
  admin?: string;
  /**
   * TLS material for an https controller URL. A function is called for every
   * request; the agent keys connections by the certificate, so after a
   * rotation the next request opens a connection with the new one.
   */
  tls?: ControllerTls | (() => ControllerTls);
  backoff?: { baseMs?: number; maxMs?: number };
  /** No byte (the controller pings every 10 s) for this long: the stream is dead. */
  idleTimeoutMs?: number;
  log?: (fields: Record<string, unknown>) => void;
}

export interface ControllerTls {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  minVersion?: 'TLSv1.3';
  /** Checks the controller's certificate (its SPIFFE id) instead of the host name. */
  checkServerIdentity?: (hostname: string, cert: PeerCertificate) => Error | undefined;
}

export interface ConfigClient {
  state(): { connected: boolean; attempts: number; lastError?: string; applied: number; rejected: number };
  close(): Promise<void>;
}

export function startConfigClient(opts: ConfigClientOptions): ConfigClient {
  const base = opts.backoff?.baseMs ?? 100;
  const max = opts.backoff?.maxMs ?? 5000;
  const idleMs = opts.idleTimeoutMs ?? 35_000;
  const log = opts.log ?? (() => {});
  const lib = opts.url.startsWith('https:') ? https : http;
  const tlsOpts = (): ControllerTls => (!opts.url.startsWith('https:') ? {} : typeof opts.tls === 'function' ? opts.tls() : (opts.tls ?? {}));
  let closed = false;
  let connected = false;
  let attempts = 0;
  let failures = 0;
  let lastError: string | undefined;
  let applied = 0;
  let rejected = 0;
  let req: ClientRequest | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();

  const adminAddr = () => {
    if (opts.admin) return opts.admin;
    const a = opts.handle.adminAddress?.();
    return a ? `${a.address}:${a.port}` : undefined;
  };

  function subscribe(): void {
    if (closed) return;
    attempts++;
    const cur = opts.handle.current();
    const q = new URLSearchParams({ service: opts.service, proxyId: opts.proxyId });
    if (cur?.hash) q.set('hash', cur.hash);
    if (cur) q.set('version', String(cur.version));
    const admin = adminAddr();
    if (admin) q.set('admin', admin);
    let tls: ControllerTls;
    try {
      tls = tlsOpts();
    } catch (err) {
      // No usable TLS material (e.g. the identity has none): retry like a failed connection.
      lastError = (err as Error).message;
      failures++;
      retryTimer = setTimeout(subscribe, backoffMs(failures + 1, base, max));
      return;
    }
    const r = lib.request(`${opts.url}/v1/push/subscribe?${q}`, { method: 'GET', headers: { authorization: `Bearer ${opts.token}` }, ...tls });
    req = r;
    let finished = false;
    const fail = (why: string) => {
      if (finished) return;
      finished = true;
      connected = false;
      lastError = why;
      r.destroy();
      if (req === r) req = undefined;
      if (closed) return;
      failures++;
      // Full jitter: proxies restarted together do not hammer the controller together.
      const delay = backoffMs(failures + 1, base, max);
      log({ msg: 'controller stream lost; keeping the last good snapshot', reason: why, retryInMs: Math.round(delay) });
      retryTimer = setTimeout(subscribe, delay);
    };
    r.setTimeout(idleMs, () => fail(`no data from the controller for ${idleMs} ms`));
    r.on('error', (err) => fail(err.message));
    r.on('response', (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => fail(`controller answered ${res.statusCode}: ${body.slice(0, 200)}`));
        return;
      }
      connected = true;
      failures = 0;
      lastError = undefined;
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) onLine(line);
        }
      });
      res.on('end', () => fail('controller closed the stream'));
      res.on('error', (err) => fail(err.message));
    });
    r.end();
  }

  function onLine(line: string): void {
    let msg: PushMessage;
    try {
      msg = PushMessage.parse(JSON.parse(line));
    } catch (err) {
      log({ msg: 'unreadable message from the controller', error: (err as Error).message });
      return;
    }
    if (msg.type !== 'snapshot') return;
    const snap = msg.snapshot;
    // One apply at a time, in order of arrival.
    chain = chain.then(async () => {
      const version = typeof snap.version === 'number' ? snap.version : 0;
      const hash = typeof snap.hash === 'string' ? snap.hash : 'unknown';
      let ack: AckMessage;
      try {
        const r = await opts.handle.apply(snap);
        if (r.ok) {
          applied++;
          ack = { service: opts.service, proxyId: opts.proxyId, version: r.version, hash: r.hash, ok: true };
        } else {
          rejected++;
          ack = { service: opts.service, proxyId: opts.proxyId, version, hash, ok: false, error: r.error };
        }
      } catch (err) {
        rejected++;
        ack = { service: opts.service, proxyId: opts.proxyId, version, hash, ok: false, error: `apply threw: ${(err as Error).message}` };
      }
      log({ msg: ack.ok ? 'snapshot applied' : 'snapshot rejected', version: ack.version, hash: ack.hash, ...(ack.error ? { error: ack.error } : {}) });
      await postAck(ack).catch((err) => log({ msg: 'could not send ack', error: (err as Error).message }));
    });
  }

  function postAck(ack: AckMessage): Promise<void> {
    const body = JSON.stringify(ack);
    return new Promise((resolve, reject) => {
      const r = lib.request(
        `${opts.url}/v1/push/ack`,
        { method: 'POST', headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, ...tlsOpts() },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`ack answered ${res.statusCode}`))));
        },
      );
      r.setTimeout(5000, () => r.destroy(new Error('ack timed out')));
      r.on('error', reject);
      r.end(body);
    });
  }

  subscribe();
  return {
    state: () => ({ connected, attempts, applied, rejected, ...(lastError ? { lastError } : {}) }),
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      req?.destroy();
      await chain;
    },
  };
}
