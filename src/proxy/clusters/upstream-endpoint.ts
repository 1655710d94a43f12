// One upstream endpoint and its connections, keyed by protocol and address so
// it outlives snapshots: a push that keeps the endpoint keeps its pool, its
// keep-alive connections and its latency estimate.
import http2 from 'node:http2';
import { H1Pool } from './h1-pool.ts';
import type { TlsOrigination } from '../identity/tls-origination.ts';
import { H2_SETTINGS, widenConnectionWindow } from './h2-windows.ts';
import { meshH2Client, meshH2Enabled } from '../h2/mesh-h2.ts';

export type UpstreamProtocol = 'http1' | 'http2' | 'tcp';

// Peak-EWMA decay: how fast an old latency sample is forgotten (linkerd: 10s).
const EWMA_DECAY_NS = 10e9;
// Cost used for a fresh endpoint, and the cost while held back after a connect failure.
const DEFAULT_RTT_NS = 1e6;
const FAILURE_PENALTY_NS = 1e9;
// How long a connect failure holds an endpoint back: doubling with each failure in a row, up to the
// maximum, and over at its first answer. Not a penalty folded into the EWMA: that one decayed over tens
// of seconds, and P2C never picks an endpoint that costs more than its peers, so a replica refused its
// first request only because its app was not listening yet starved for about a minute (reliability/,
// recreate-replica). Held briefly, it is tried again soon; a dead one is tried at most every few seconds.
const FAILURE_HOLD_BASE_NS = 250e6;
const FAILURE_HOLD_MAX_NS = 8e9;

/** Connect timeout when a cluster sets no timeouts.connectMs. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Codes of the error a connect that outlived timeouts.connectMs fails with (undici's, from before H1Pool, and ours). */
export const CONNECT_TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_CONNECT_TIMEOUT', 'MESH_CONNECT_TIMEOUT']);

export function connectTimeoutError(hostPort: string, ms: number): Error {
  return Object.assign(new Error(`connect to ${hostPort} timed out after ${ms} ms`), { code: 'MESH_CONNECT_TIMEOUT' });
}

export class UpstreamEndpoint {
  readonly key: string;
  readonly protocol: UpstreamProtocol;
  readonly address: string;
  readonly port: number;
  /** "address:port", as shown in errors and access logs. */
  readonly hostPort: string;
  readonly origin: string;
  inflight = 0;
  requests = 0;
  failures = 0;
  private ewmaNs = DEFAULT_RTT_NS;
  private stampNs = 0n;
  /** Connect failures since the last answer, and until when the last one holds the endpoint back. */
  private failuresInARow = 0;
  private heldUntilNs = 0n;
  private h1: H1Pool | undefined;
  private session: http2.ClientHttp2Session | undefined;
  private maxConnections: number;
  /** Connect timeout of the pool, h2 sessions and TCP connects (cluster timeouts.connectMs). */
  readonly connectTimeoutMs: number;

  /** Set for a peer sidecar reached over mTLS (h2 over TLS for HTTP, TLS-wrapped TCP). */
  readonly tls: TlsOrigination | undefined;

  constructor(protocol: UpstreamProtocol, address: string, port: number, maxConnections: number, tls?: TlsOrigination, key?: string, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS) {
    this.connectTimeoutMs = connectTimeoutMs;
    this.protocol = protocol;
    this.address = address;
    this.port = port;
    this.tls = tls;
    this.key = key ?? UpstreamEndpoint.keyOf(protocol, address, port);
    this.hostPort = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    this.origin = `http://${this.hostPort}`;
    this.maxConnections = maxConnections;
  }

  static keyOf(protocol: string, address: string, port: number): string {
    return `${protocol}|${address}|${port}`;
  }

  /** The keep-alive pool the HTTP/1.1 forwarder uses (created on first use): clusters/h1-pool.ts. */
  h1Pool(): H1Pool {
    if (this.h1 === undefined) {
      this.h1 = new H1Pool(this.address, this.port, {
        maxConnections: this.maxConnections,
        connectTimeoutMs: this.connectTimeoutMs,
        connectTimeoutError: () => connectTimeoutError(this.hostPort, this.connectTimeoutMs),
      });
    }
    return this.h1;
  }

  /** One multiplexed session for HTTP/2 upstreams (h2c, or h2 over mTLS to a peer sidecar), re-opened when it goes away. */
  http2Session(): http2.ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const tls = this.tls;
    let session: http2.ClientHttp2Session;
    // The mesh engine's session and streams offer the subset of node:http2's API the proxy uses (h2/h2-stream.ts).
    if (tls && meshH2Enabled) session = meshH2Client(tls.connect(['h2'])) as unknown as http2.ClientHttp2Session;
    else {
      session = tls
        ? http2.connect(`https://${this.hostPort}`, { peerMaxConcurrentStreams: 1000, settings: H2_SETTINGS, createConnection: () => tls.connect(['h2']) })
        : http2.connect(this.origin, { peerMaxConcurrentStreams: 1000, settings: H2_SETTINGS });
      widenConnectionWindow(session);
    }
    session.on('error', () => {});
    // Connect timeout (cluster timeouts.connectMs): TCP connect, and the TLS handshake for a peer sidecar.
    const timer = setTimeout(() => session.destroy(connectTimeoutError(this.hostPort, this.connectTimeoutMs)), this.connectTimeoutMs);
    timer.unref();
    session.once('connect', () => clearTimeout(timer));
    session.once('close', () => clearTimeout(timer));
    session.on('goaway', () => {
      if (this.session === session) this.session = undefined;
    });
    session.on('close', () => {
      if (this.session === session) this.session = undefined;
    });
    // Do not keep the process alive for an idle session.
    session.unref();
    this.session = session;
    return session;
  }

  /** Graceful: streams in flight finish, the next request opens a new session. */
  closeSession(): void {
    const s = this.session;
    this.session = undefined;
    // Not at once: nghttp2 sends our GOAWAY ahead of HEADERS still queued, and
    // the peer then refuses (REFUSED_STREAM) a stream it sees after answering
    // that GOAWAY. No new stream goes to `s` now; close it once those just opened are on the wire.
    if (s) setTimeout(() => s.close(), 1000).unref();
  }

  /** Peak-EWMA cost: latency estimate weighted by outstanding work. */
  cost(nowNs: bigint): number {
    const ewma = nowNs < this.heldUntilNs ? FAILURE_PENALTY_NS : this.decayed(nowNs);
    return ewma * (this.inflight + 1);
  }

  private decayed(nowNs: bigint): number {
    if (this.stampNs === 0n) return this.ewmaNs;
    const elapsed = Number(nowNs - this.stampNs);
    const w = Math.exp(-elapsed / EWMA_DECAY_NS);
    // Decay toward the default so an idle slow endpoint is retried eventually.
    return this.ewmaNs * w + DEFAULT_RTT_NS * (1 - w);
  }

  /** Record one latency sample; a peak above the estimate replaces it at once. */
  observe(rttNs: number, nowNs: bigint): void {
    this.failuresInARow = 0;
    this.heldUntilNs = 0n;
    if (rttNs > this.ewmaNs) {
      this.ewmaNs = rttNs;
    } else {
      const elapsed = this.stampNs === 0n ? EWMA_DECAY_NS : Number(nowNs - this.stampNs);
      const w = Math.exp(-elapsed / EWMA_DECAY_NS);
      this.ewmaNs = this.ewmaNs * w + rttNs * (1 - w);
    }
    this.stampNs = nowNs;
  }

  /** A connect failure: held back a while (see FAILURE_HOLD_BASE_NS); the latency estimate is left as it was. */
  observeFailure(nowNs: bigint): void {
    this.failures++;
    const holdNs = Math.min(FAILURE_HOLD_MAX_NS, FAILURE_HOLD_BASE_NS * 2 ** Math.min(this.failuresInARow, 16));
    this.failuresInARow++;
    this.heldUntilNs = nowNs + BigInt(holdNs);
  }

  latencyMs(): number {
    return this.ewmaNs / 1e6;
  }

  /** Close gracefully: in-flight requests finish, idle connections go. */
  async close(): Promise<void> {
    const h1 = this.h1;
    this.h1 = undefined;
    const s = this.session;
    this.session = undefined;
    s?.close();
    await h1?.close();
  }

  async destroy(): Promise<void> {
    const h1 = this.h1;
    this.h1 = undefined;
    this.session?.destroy();
    this.session = undefined;
    await h1?.destroy();
  }
}
