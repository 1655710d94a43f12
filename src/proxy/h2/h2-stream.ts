// One stream of the mesh HTTP/2 engine (h2-session.ts). It offers the part of
// node:http2's Http2Stream the request path uses, readable and writable, but
// is a small EventEmitter, not a stream.Duplex: node:http2's streams carry a
// Readable and a Writable state, a C++ handle and an async resource each, and
// stay reachable until a full GC, which made mTLS hops twice the CPU of
// plaintext ones and set off the mark-compacts behind their p99.
//
// Reading: DATA is emitted as 'data' while flowing (a 'data' listener,
// resume() or pipe()); paused, it is queued and not credited back to the
// peer, so the peer's flow-control window bounds what a paused stream holds.
// Writing: write() queues and returns false past HIGH_WATER bytes; the session
// sends what the windows allow and emits 'drain'.
import { EventEmitter } from 'node:events';
import type { H2Session } from './h2-session.ts';
import { ErrorCode } from './frames.ts';

type Listener = (...args: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any
type HeaderValue = string | string[] | number | undefined;
export type HeaderObject = Record<string, string | string[] | undefined>;
export type OutgoingHeaders = Record<string, HeaderValue> | string[];

const HIGH_WATER = 64 * 1024;

export class H2StreamError extends Error {
  readonly code: string;
  readonly cause: unknown;
  constructor(code: string, message: string, cause?: unknown) {
    super(message);
    this.code = code;
    this.cause = cause;
  }
}

const ERROR_NAMES = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [v, `NGHTTP2_${k}`]));

function emitClose(s: H2Stream): void {
  s.emit('close');
}
function emitCloseAfterError(s: H2Stream, err: Error): void {
  s.emit('error', err);
  s.emit('close');
}

export class H2Stream extends EventEmitter {
  readonly id: number;
  readonly session: H2Session;
  /** Our send window for this stream (the peer's credit). */
  sendWindow: number;
  /** Received bytes delivered to the reader and not yet credited back. */
  unacked = 0;
  /** What the peer may still send on this stream. */
  recvWindow: number;
  /** Data written and not yet framed (flow control or a busy socket). */
  outbox: Buffer[] = [];
  outBytes = 0;
  needDrain = false;
  /** end() was called. */
  writableEnded = false;
  /** END_STREAM is on its way to the peer. */
  localEnded = false;
  /** The peer sent END_STREAM. */
  remoteEnded = false;
  /** The request or response had END_STREAM on its headers (no body). */
  endAfterHeaders = false;
  readableDidRead = false;
  closed = false;
  destroyed = false;
  rstCode: number | undefined;
  /** A server stream holding END_STREAM back for trailers. */
  waitForTrailers = false;
  /** 'wantTrailers' was emitted: END_STREAM comes with sendTrailers(). */
  trailersAsked = false;
  private flowing: boolean | null = null;
  private inbox: Buffer[] | undefined;
  private inboxBytes = 0;
  private endEmitted = false;
  private deliverScheduled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(session: H2Session, id: number, sendWindow: number, recvWindow: number) {
    super();
    this.session = session;
    this.id = id;
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  // ---- reading

  override on(event: string | symbol, listener: Listener): this {
    super.on(event, listener);
    if (event === 'data' && this.flowing !== false) this.resume();
    return this;
  }

  override addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  pause(): this {
    this.flowing = false;
    return this;
  }

  resume(): this {
    this.flowing = true;
    if ((this.inbox !== undefined || (this.remoteEnded && !this.endEmitted)) && !this.deliverScheduled) {
      this.deliverScheduled = true;
      process.nextTick(deliverQueued, this);
    }
    return this;
  }

  isPaused(): boolean {
    return this.flowing === false;
  }

  /** Copies the body into `dest`, pausing while `dest` asks to wait. */
  pipe<T extends NodeJS.WritableStream>(dest: T, options?: { end?: boolean }): T {
    const onData = (chunk: Buffer): void => {
      if (dest.write(chunk) === false) {
        this.pause();
        dest.once('drain', onDrain);
      }
    };
    const onDrain = (): void => {
      this.resume();
    };
    this.on('data', onData);
    if (options?.end !== false) this.once('end', () => dest.end());
    this.once('close', () => {
      this.removeListener('data', onData);
      dest.removeListener('drain', onDrain);
    });
    return dest;
  }

  /** DATA from the peer (called by the session). */
  receive(chunk: Buffer): void {
    if (this.flowing === true && this.inbox === undefined) this.emitData(chunk);
    else {
      (this.inbox ??= []).push(chunk);
      this.inboxBytes += chunk.length;
    }
  }

  /** END_STREAM from the peer. */
  receiveEnd(): void {
    this.remoteEnded = true;
    if (this.flowing === true && this.inbox === undefined) this.emitEnd();
    this.maybeClose();
  }

  /** Queued data and end, once flowing again. */
  deliver(): void {
    this.deliverScheduled = false;
    while (this.flowing === true && this.inbox !== undefined) {
      const chunk = this.inbox.shift()!;
      if (this.inbox.length === 0) this.inbox = undefined;
      this.inboxBytes -= chunk.length;
      this.emitData(chunk);
    }
    if (this.flowing === true && this.inbox === undefined && this.remoteEnded && !this.endEmitted) this.emitEnd();
  }

  private emitData(chunk: Buffer): void {
    this.readableDidRead = true;
    this.session.consumed(this, chunk.length);
    this.emit('data', chunk);
  }

  private emitEnd(): void {
    if (this.endEmitted) return;
    this.endEmitted = true;
    this.emit('end');
  }

  // ---- writing

  write(chunk: Buffer | string, encoding?: BufferEncoding | ((err?: Error | null) => void), cb?: (err?: Error | null) => void): boolean {
    if (typeof encoding === 'function') cb = encoding;
    if (this.writableEnded || this.closed) return false;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : chunk;
    if (buf.length > 0) {
      this.outbox.push(buf);
      this.outBytes += buf.length;
      this.session.flushStream(this);
    }
    if (cb) process.nextTick(cb);
    if (this.outBytes < HIGH_WATER) return true;
    this.needDrain = true;
    return false;
  }

  end(chunk?: Buffer | string | (() => void), cb?: () => void): this {
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
    }
    if (this.writableEnded || this.closed) return this;
    if (chunk !== undefined) this.write(chunk);
    this.writableEnded = true;
    if (cb) this.once('finish', cb);
    this.session.flushStream(this);
    return this;
  }

  get writable(): boolean {
    return !this.writableEnded && !this.closed;
  }

  /** Emits 'timeout' (and calls `cb`) once `ms` after this call: a deadline, not reset by activity as node:http2's is. */
  setTimeout(ms: number, cb?: () => void): this {
    clearTimeout(this.timer);
    if (ms > 0) {
      this.timer = setTimeout(() => this.emit('timeout'), ms);
      this.timer.unref();
      if (cb) this.once('timeout', cb);
    }
    return this;
  }

  get writableNeedDrain(): boolean {
    return this.needDrain;
  }

  get writableLength(): number {
    return this.outBytes;
  }

  /** The session framed everything written and END_STREAM. */
  localEndSent(): void {
    this.localEnded = true;
    this.emit('finish');
    this.maybeClose();
  }

  /** The answer is complete: a request body still coming is not wanted (RST_STREAM NO_ERROR, RFC 9113 §8.1). */
  protected stopReading(): void {
    if (!this.remoteEnded && !this.closed) this.close(ErrorCode.NO_ERROR);
  }

  /** The session framed queued data: 'drain' when a write had to wait. */
  drained(): void {
    if (this.needDrain && this.outBytes < HIGH_WATER) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  // ---- ending

  /** Resets the stream (RST_STREAM with `code`, CANCEL by default). */
  close(code: number = ErrorCode.CANCEL): void {
    if (this.closed) return;
    this.rstCode = code;
    this.session.sendReset(this, code);
    this.finish(undefined);
  }

  destroy(err?: Error): this {
    if (this.closed) return this;
    this.rstCode = err ? ErrorCode.INTERNAL_ERROR : ErrorCode.CANCEL;
    this.session.sendReset(this, this.rstCode);
    this.finish(err);
    return this;
  }

  /** A stream error of the peer's making (a malformed head): RST_STREAM with `code`, and 'error' here. */
  fail(code: number, why: string): void {
    if (this.closed) return;
    this.rstCode = code;
    this.session.sendReset(this, code);
    if (!this.writableEnded) this.emit('aborted');
    this.finish(new H2StreamError('ERR_HTTP2_STREAM_ERROR', `Stream closed with error code ${ERROR_NAMES[code] ?? code}: ${why}`));
  }

  /** RST_STREAM from the peer: an error unless NO_ERROR or CANCEL (as node:http2). */
  peerReset(code: number): void {
    if (this.closed) return;
    this.rstCode = code;
    // As node:http2: 'aborted' only while this side's writable part is still open.
    if (!this.writableEnded) this.emit('aborted');
    const err = code === ErrorCode.NO_ERROR || code === ErrorCode.CANCEL ? undefined : new H2StreamError('ERR_HTTP2_STREAM_ERROR', `Stream closed with error code ${ERROR_NAMES[code] ?? code}`);
    this.finish(err);
  }

  /** The connection is gone under the stream. */
  sessionGone(err: Error): void {
    if (this.closed) return;
    this.rstCode = ErrorCode.INTERNAL_ERROR;
    if (!this.writableEnded) this.emit('aborted');
    this.finish(this.remoteEnded && this.localEnded ? undefined : err);
  }

  private maybeClose(): void {
    if (this.localEnded && this.remoteEnded && !this.closed) this.finish(undefined);
  }

  private finish(err: Error | undefined): void {
    clearTimeout(this.timer);
    // A stream that ended both ways closes with NO_ERROR, as node:http2 reports it.
    this.rstCode ??= ErrorCode.NO_ERROR;
    this.closed = true;
    this.destroyed = true;
    this.outbox.length = 0;
    this.outBytes = 0;
    this.inbox = undefined;
    // Data received and never read still counts against the connection window: give it back.
    this.session.streamClosed(this, this.inboxBytes);
    this.inboxBytes = 0;
    if (err) process.nextTick(emitCloseAfterError, this, err);
    else process.nextTick(emitClose, this);
  }
}

function deliverQueued(s: H2Stream): void {
  s.deliver();
}

/** The client side of a request: 'response', 'headers' (1xx), 'trailers', body events. */
export class H2ClientStream extends H2Stream {
  responded = false;
}

/** The server side: the request's body, and respond() / sendTrailers() for the answer. */
export class H2ServerStream extends H2Stream {
  headersSent = false;
  /** The request's method: HEAD answers carry no body. */
  method = '';

  override localEndSent(): void {
    super.localEndSent();
    this.stopReading();
  }

  /** Sends the response head; END_STREAM with it when asked, for HEAD, 204 and 304. */
  respond(headers: OutgoingHeaders = {}, options?: { endStream?: boolean; waitForTrailers?: boolean; sendDate?: boolean }): void {
    if (this.closed) return;
    if (this.headersSent) throw new H2StreamError('ERR_HTTP2_HEADERS_SENT', 'Response has already been initiated.');
    const status = statusOf(headers);
    const endStream = options?.endStream === true || this.method === 'HEAD' || status === 204 || status === 304;
    this.headersSent = true;
    this.waitForTrailers = !endStream && options?.waitForTrailers === true;
    this.session.sendHeaders(this, headers, endStream, options?.sendDate !== false);
    if (endStream) {
      this.writableEnded = true;
      this.localEndSent();
    }
  }

  /** An informational (1xx) head before the response. */
  additionalHeaders(headers: OutgoingHeaders): void {
    if (this.closed || this.headersSent) return;
    this.session.sendHeaders(this, headers, false, false);
  }

  /** Trailers after the body; ends the stream. */
  sendTrailers(headers: OutgoingHeaders): void {
    if (this.closed || this.localEnded) return;
    this.waitForTrailers = false;
    this.session.sendHeaders(this, headers, true, false);
    this.localEndSent();
  }
}

function statusOf(headers: OutgoingHeaders): number {
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === ':status') return Number(headers[i + 1]);
    return 200;
  }
  return Number(headers[':status'] ?? 200);
}
