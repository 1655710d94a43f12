// One keep-alive HTTP/1.1 connection to an upstream, carrying one request at
// a time for H1Pool: writes the request head and streams its body (with
// backpressure, Content-Length or chunked), feeds the response to the strict
// parser (http/h1-response-parser.ts) and hands it to the call's handler.
// The connection goes back to the pool only when both the request and the
// response are complete and the upstream allows keep-alive; any error
// destroys it.
import net from 'node:net';
import type { Readable } from 'node:stream';
import { H1ResponseParser, type ResponseEvents } from '../http/h1-response-parser.ts';
import type { H1Call, H1Pool } from './h1-pool.ts';
import { SocketWriter } from '../tcp/socket-handle-write.ts';

// Methods whose request is expected to carry a body: an empty one still gets `content-length: 0` (as undici).
const PAYLOAD_METHODS = new Set(['PUT', 'POST', 'PATCH', 'QUERY', 'PROPFIND', 'PROPPATCH']);

const INVALID_PATH = /[\x00-\x20\x7f]/;

// Each connection reads into its own buffer (net.connect's `onread`): no Buffer, Readable push or
// 'data' event per read. A response of about 1 KB is one read; a bulk body takes one per 16 KiB.
const READ_BUFFER_BYTES = 16 * 1024;

// Below this many bytes, a request head and its body are copied into one buffer (Buffer's pool serves up to 4 KiB).
const COPY_BELOW = 4096;

function ignore(): void {}

/** "other side closed": undici's code, so logs, retries (stale keep-alive) and dashboards read as before. */
function closedError(what: string): Error {
  return Object.assign(new Error(`upstream closed the connection ${what}`), { code: 'UND_ERR_SOCKET' });
}

export class H1Connection implements ResponseEvents {
  readonly socket: net.Socket;
  /** Whole requests go straight to the socket's handle, in a burst when the event loop is busy (writeSoon, tcp/socket-handle-write.ts); nothing waits on them. */
  private readonly writer: SocketWriter;
  private readonly pool: H1Pool;
  private readonly parser: H1ResponseParser;
  private call: H1Call | undefined;
  private body: Readable | undefined;
  private requestDone = false;
  private responded = false;
  private connectTimer: NodeJS.Timeout | undefined;
  /** Inside parser.execute(), and whether the connection is to go back to the pool when it returns. */
  private parsing = false;
  private releaseAfterParse = false;
  private gone = false;
  private paused = false;
  private connected = false;
  /** A request body waiting for the connection to be up. */
  private bodyOnConnect: { body: Readable; length: number } | undefined;
  /** When it went idle (performance.now()), and how long the upstream lets it stay so. */
  idleSince = 0;
  keepAliveMs: number;

  constructor(pool: H1Pool) {
    this.pool = pool;
    this.keepAliveMs = pool.keepAliveMs;
    this.parser = new H1ResponseParser(this);
    const s = net.connect({ host: pool.host, port: pool.port, noDelay: true, onread: { buffer: Buffer.allocUnsafeSlow(READ_BUFFER_BYTES), callback: this.onRead } });
    this.socket = s;
    this.writer = new SocketWriter(s, ignore);
    this.connectTimer = setTimeout(H1Connection.connectTimedOut, pool.connectTimeoutMs, this);
    s.once('connect', () => this.onConnect());
    s.on('end', () => this.onClose(closedError(this.responded ? 'mid-response' : 'before answering')));
    s.on('error', (err: Error) => this.onClose(err));
    s.on('close', () => this.onClose(closedError(this.responded ? 'mid-response' : 'before answering')));
  }

  private static connectTimedOut(c: H1Connection): void {
    c.connectTimer = undefined;
    c.socket.destroy(c.pool.connectTimeoutError());
  }

  private onConnect(): void {
    this.connected = true;
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    const b = this.bodyOnConnect;
    this.bodyOnConnect = undefined;
    if (b !== undefined && this.call !== undefined) this.streamBody(b.body, b.length);
  }

  /** Write a request on this (idle or connecting) connection. */
  start(call: H1Call): void {
    this.call = call;
    call.conn = this;
    this.requestDone = false;
    this.responded = false;
    const r = call.request;
    // An HTTP/2 client's :path reaches here unchecked by an HTTP/1 parser: no space or control character
    // may split the request line (undici refused these too).
    if (INVALID_PATH.test(r.path)) {
      this.fail(Object.assign(new Error('invalid request path'), { code: 'UND_ERR_INVALID_ARG' }));
      return;
    }
    this.parser.reset(r.method === 'HEAD');
    const h = r.headers;
    let head = `${r.method} ${r.path} HTTP/1.1\r\n`;
    let hasHost = false;
    let length: string | undefined;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i]!;
      if (name.length === 4 && !hasHost && name.toLowerCase() === 'host') hasHost = true;
      else if (name.length === 14 && name.toLowerCase() === 'content-length') {
        length = h[i + 1];
        continue; // framing is ours: written below from the body we actually send
      }
      head += `${name}: ${h[i + 1]}\r\n`;
    }
    if (!hasHost) head += `host: ${this.pool.hostPort}\r\n`;
    head += 'connection: keep-alive\r\n';
    const body = r.body;
    const s = this.socket;
    if (body === null || Buffer.isBuffer(body)) {
      const n = body === null ? 0 : body.length;
      if (n > 0 || PAYLOAD_METHODS.has(r.method)) head += `content-length: ${n}\r\n`;
      head += '\r\n';
      if (!this.connected) {
        // Held by the socket until it connects.
        s.write(head, 'latin1');
        if (n > 0) s.write(body!);
      } else if (n === 0) this.writer.writeSoon(head);
      else if (head.length + n < COPY_BELOW) {
        const buf = Buffer.allocUnsafe(head.length + n);
        buf.write(head, 0, 'latin1');
        body!.copy(buf, head.length);
        this.writer.writeSoon(buf);
      } else {
        this.writer.flush();
        s.cork();
        s.write(head, 'latin1');
        s.write(body!);
        s.uncork();
      }
      if (n > 0) call.handler.onBodySent(n);
      this.requestDone = true;
      return;
    }
    head += length !== undefined ? `content-length: ${length}\r\n\r\n` : 'transfer-encoding: chunked\r\n\r\n';
    this.writer.flush();
    s.write(head, 'latin1');
    // Not a byte of the body is read before the connection is up: a connect failure leaves it untouched,
    // so the request can go to another replica (retry filter, bodyUntouched).
    if (this.connected) this.streamBody(body, length === undefined ? -1 : Number(length));
    else this.bodyOnConnect = { body, length: length === undefined ? -1 : Number(length) };
  }

  /** Streams the request body: pauses it while the socket's buffer is full, frames it when chunked. */
  private streamBody(body: Readable, length: number): void {
    this.body = body;
    const s = this.socket;
    const chunked = length < 0;
    let sent = 0;
    const resume = (): void => {
      if (this.body === body) body.resume();
    };
    const onData = (chunk: Buffer): void => {
      if (this.body !== body) return;
      sent += chunk.length;
      if (!chunked && sent > length) {
        this.fail(Object.assign(new Error(`request body longer than its content-length ${length}`), { code: 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH' }));
        return;
      }
      let ok: boolean;
      if (chunked) {
        s.cork();
        s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        s.write(chunk);
        ok = s.write('\r\n', 'latin1');
        s.uncork();
      } else ok = s.write(chunk);
      this.call?.handler.onBodySent(chunk.length);
      // The last byte of a Content-Length body is the end of the request, whenever the stream says 'end'
      // (an upstream may answer first, and the connection is reusable only once the request is complete).
      if (!chunked && sent === length) {
        this.detachBody();
        this.requestDone = true;
        return;
      }
      if (!ok) {
        body.pause();
        s.once('drain', resume);
      }
    };
    const onEnd = (): void => {
      if (this.body !== body) return;
      if (!chunked && sent !== length) {
        this.fail(Object.assign(new Error(`request body shorter than its content-length ${length}`), { code: 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH' }));
        return;
      }
      if (chunked) s.write('0\r\n\r\n', 'latin1');
      this.detachBody();
      this.requestDone = true;
      if (this.parser.complete && this.call !== undefined) this.finish();
    };
    const onError = (err: Error): void => {
      if (this.body === body) this.fail(err);
    };
    this.bodyListeners = { body, onData, onEnd, onError };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
  }

  private bodyListeners: { body: Readable; onData: (c: Buffer) => void; onEnd: () => void; onError: (e: Error) => void } | undefined;

  private detachBody(): void {
    this.bodyOnConnect = undefined;
    const l = this.bodyListeners;
    this.body = undefined;
    if (l === undefined) return;
    this.bodyListeners = undefined;
    l.body.removeListener('data', l.onData);
    l.body.removeListener('end', l.onEnd);
    l.body.removeListener('error', l.onError);
  }

  // False stops reading (the response's client is slow); resume() starts it again.
  private readonly onRead = (n: number, buf: Buffer): boolean => {
    this.onData(n === buf.length ? buf : buf.subarray(0, n));
    return !this.paused;
  };

  private onData(d: Buffer): void {
    const call = this.call;
    if (call === undefined) {
      // Bytes from an idle connection belong to no request: it cannot be trusted any more.
      this.socket.destroy();
      return;
    }
    let used: number;
    this.parsing = true;
    try {
      used = this.parser.execute(d);
    } catch (err) {
      this.parsing = false;
      this.releaseAfterParse = false;
      this.fail(err as Error);
      return;
    }
    this.parsing = false;
    const release = this.releaseAfterParse;
    this.releaseAfterParse = false;
    // Bytes after the end of a response (pipelining is off): the upstream is confused, so is this connection.
    if (used < d.length) this.socket.destroy();
    else if (release) this.pool.release(this);
  }

  onHead(status: number, reason: string, raw: string[], contentLength: number): void {
    const call = this.call;
    if (call === undefined) return;
    this.responded = true;
    call.handler.onResponseStart(call, status, reason, raw, contentLength);
  }

  onBody(chunk: Buffer): void {
    const call = this.call;
    if (call === undefined) return;
    // A copy: the handler may keep the chunk (a write the kernel did not take whole, an HTTP/2 stream's
    // queue) and the next read reuses this memory. Up to 4 KiB the copy comes from Buffer's pool.
    const own = Buffer.allocUnsafe(chunk.length);
    chunk.copy(own);
    call.handler.onResponseData(call, own);
  }

  onEnd(trailers: string[] | undefined): void {
    const call = this.call;
    if (call === undefined) return;
    if (this.requestDone) this.finish();
    else {
      // Answered before the whole request body was sent: the rest is not wanted, the connection cannot be reused.
      call.done = true;
      this.call = undefined;
      this.detachBody();
      this.socket.destroy();
    }
    call.handler.onResponseEnd(call, trailers);
  }

  /** Request and response complete: back to the pool, or closed when the upstream wants it so. */
  private finish(): void {
    const call = this.call!;
    call.done = true;
    this.call = undefined;
    const hint = this.parser.keepAliveHintMs;
    if (hint !== undefined) this.keepAliveMs = Math.min(this.pool.keepAliveMaxMs, hint - 2000);
    // Paused by the last response's client (its final bytes came in the same read): the next request's must flow.
    if (this.paused) this.resume();
    if (!this.parser.keepAlive || this.keepAliveMs <= 0 || this.socket.destroyed) this.socket.destroy();
    // Not from inside parser.execute(): a next request written now would have its response parsed from
    // the rest of this read. onData releases it once the read is used up (and only if it is).
    else if (this.parsing) this.releaseAfterParse = true;
    else this.pool.release(this);
  }

  carries(call: H1Call): boolean {
    return this.call === call;
  }

  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    this.socket.resume();
  }

  /** Ends the call in flight with `err` and destroys the connection. */
  fail(err: Error): void {
    const call = this.call;
    this.call = undefined;
    this.detachBody();
    this.socket.destroy();
    if (call === undefined || call.done) return;
    call.done = true;
    call.handler.onResponseError(call, err);
  }

  /** 'end', 'error' or 'close' of the socket, whichever comes first (and again for the others). */
  private onClose(err: Error): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    // A close-delimited body ends with a clean close (the parser's onEnd finishes the call); a reset cuts it.
    if (this.call !== undefined && this.parser.endsAtClose && (err as { code?: string }).code === 'UND_ERR_SOCKET') this.parser.finish();
    if (this.call !== undefined) this.fail(err);
    if (!this.socket.destroyed) this.socket.destroy();
    if (this.gone) return;
    this.gone = true;
    this.pool.closed(this);
  }
}
