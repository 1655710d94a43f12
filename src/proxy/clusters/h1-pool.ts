// Keep-alive HTTP/1.1 connections to one plain-HTTP upstream endpoint, one
// request at a time on each (no pipelining), at most `maxConnections` of
// them; requests beyond wait in a FIFO queue (the circuit breaker counts them
// as pending). Replaces undici's Pool on the forwarding path: a bare
// node:http proxy spends about a third less CPU per request with a client
// this small (bench/forwarding-clients.ts).
//
// Idle connections are reused newest first and closed after `keepAliveMs`
// (4 s: many servers close theirs after ~5 s without saying so) or what the
// upstream's `Keep-Alive: timeout=N` allows (minus 2 s, up to 10 min).
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { H1Connection } from './h1-connection.ts';

export interface H1Request {
  method: string;
  path: string;
  /** Flat [name, value, ...]; Content-Length is recomputed from the body, Host added when missing. */
  headers: string[];
  body: Buffer | Readable | null;
}

/** Callbacks of one request, in order: start, then head, data..., end; or error at any point (once). */
export interface H1Handler {
  /** Bound to a connection: the request is being written (it no longer waits in the queue). */
  onRequestStart(call: H1Call): void;
  onBodySent(bytes: number): void;
  /** `contentLength` is -1 for chunked and close-delimited bodies. Interim 1xx heads are skipped. */
  onResponseStart(call: H1Call, status: number, reason: string, rawHeaders: string[], contentLength: number): void;
  onResponseData(call: H1Call, chunk: Buffer): void;
  onResponseEnd(call: H1Call, trailers: string[] | undefined): void;
  /** Connect failure (errno), connect timeout, reset, protocol error (HPE_*), or the reason given to abort(). */
  onResponseError(call: H1Call, err: Error): void;
}

/** One request through the pool: what the handler holds to pause, resume or abort it. */
export class H1Call {
  readonly pool: H1Pool;
  readonly request: H1Request;
  readonly handler: H1Handler;
  conn: H1Connection | undefined;
  done = false;

  constructor(pool: H1Pool, request: H1Request, handler: H1Handler) {
    this.pool = pool;
    this.request = request;
    this.handler = handler;
  }

  /** Stop reading the response (backpressure from the client). */
  pause(): void {
    if (!this.done) this.conn?.pause();
  }

  resume(): void {
    if (!this.done) this.conn?.resume();
  }

  /** Cancel: the connection (if any) is destroyed, onResponseError gets `reason`. */
  abort(reason: Error): void {
    if (this.done) return;
    if (this.conn !== undefined && this.conn.carries(this)) {
      this.conn.fail(reason);
      return;
    }
    this.done = true;
    this.pool.dequeue(this);
    this.handler.onResponseError(this, reason);
  }
}

export interface H1PoolOptions {
  maxConnections: number;
  connectTimeoutMs: number;
  connectTimeoutError: () => Error;
  keepAliveMs?: number;
  keepAliveMaxMs?: number;
}

export class H1Pool {
  readonly host: string;
  readonly port: number;
  readonly hostPort: string;
  readonly maxConnections: number;
  readonly connectTimeoutMs: number;
  readonly connectTimeoutError: () => Error;
  readonly keepAliveMs: number;
  readonly keepAliveMaxMs: number;
  private readonly idle: H1Connection[] = [];
  private readonly all = new Set<H1Connection>();
  private queue: H1Call[] = [];
  private open = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private closing = false;
  private whenEmpty: (() => void) | undefined;
  private drained: Promise<void> | undefined;

  constructor(host: string, port: number, o: H1PoolOptions) {
    this.host = host;
    this.port = port;
    this.hostPort = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.maxConnections = o.maxConnections;
    this.connectTimeoutMs = o.connectTimeoutMs;
    this.connectTimeoutError = o.connectTimeoutError;
    this.keepAliveMs = o.keepAliveMs ?? 4_000;
    this.keepAliveMaxMs = o.keepAliveMaxMs ?? 600_000;
  }

  /** Connections open or opening, and requests waiting for one (tests, stats). */
  get stats(): { open: number; idle: number; queued: number } {
    return { open: this.open, idle: this.idle.length, queued: this.queue.length };
  }

  dispatch(request: H1Request, handler: H1Handler): H1Call {
    const call = new H1Call(this, request, handler);
    const conn = this.idleConnection() ?? this.newConnection();
    if (conn === undefined) this.queue.push(call);
    else this.bind(conn, call);
    return call;
  }

  private bind(conn: H1Connection, call: H1Call): void {
    call.conn = conn;
    call.handler.onRequestStart(call);
    // The handler may have aborted it at once (its client left while it waited): the connection is unused.
    if (!call.done) conn.start(call);
    else this.release(conn);
  }

  /** The newest idle connection still within its keep-alive time (older ones are closed on the way). */
  private idleConnection(): H1Connection | undefined {
    let c: H1Connection | undefined;
    while ((c = this.idle.pop()) !== undefined) {
      if (performance.now() - c.idleSince < c.keepAliveMs && !c.socket.destroyed) {
        c.idleSince = 0;
        return c;
      }
      c.socket.destroy();
    }
    return undefined;
  }

  private newConnection(): H1Connection | undefined {
    if (this.open >= this.maxConnections) return undefined;
    this.open++;
    const c = new H1Connection(this);
    this.all.add(c);
    return c;
  }

  /** A connection finished a request and may carry another: the next queued request, else idle. */
  release(conn: H1Connection): void {
    const next = this.queue.shift();
    if (next !== undefined) {
      this.bind(conn, next);
      return;
    }
    if (this.closing) {
      conn.socket.destroy();
      return;
    }
    conn.idleSince = performance.now();
    this.idle.push(conn);
    this.sweeper ??= setInterval(H1Pool.sweep, 500, this).unref();
  }

  /** A queued request was aborted before it got a connection. */
  dequeue(call: H1Call): void {
    const i = this.queue.indexOf(call);
    if (i !== -1) this.queue.splice(i, 1);
  }

  /** A connection is gone (closed, failed, timed out): a queued request gets a new one. */
  closed(conn: H1Connection): void {
    this.open--;
    this.all.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
    const next = this.queue.shift();
    if (next !== undefined) this.bind(this.newConnection()!, next);
    if (this.open === 0) this.whenEmpty?.();
  }

  private static sweep(pool: H1Pool): void {
    const now = performance.now();
    for (const c of [...pool.idle]) if (now - c.idleSince >= c.keepAliveMs) c.socket.destroy();
    if (pool.idle.length === 0) {
      clearInterval(pool.sweeper);
      pool.sweeper = undefined;
    }
  }

  /** Graceful: idle connections close now, busy ones after their request; queued requests are still served. */
  close(): Promise<void> {
    this.closing = true;
    for (const c of this.idle.splice(0)) c.socket.destroy();
    if (this.open === 0) return Promise.resolve();
    return (this.drained ??= new Promise((resolve) => (this.whenEmpty = resolve)));
  }

  /** At once: every request in flight or queued fails with `reason`. */
  destroy(reason: Error = Object.assign(new Error('upstream pool destroyed'), { code: 'UND_ERR_DESTROYED' })): Promise<void> {
    this.closing = true;
    for (const call of this.queue.splice(0)) {
      call.done = true;
      call.handler.onResponseError(call, reason);
    }
    for (const c of [...this.all]) c.fail(reason);
    return this.close();
  }
}
