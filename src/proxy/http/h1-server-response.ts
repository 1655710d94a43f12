// A response written by the proxy's own HTTP/1 server: the part of
// node:http's ServerResponse the request path uses (writeHead with a raw
// header list or an object, write with backpressure and 'drain', end,
// addTrailers, destroy, 'close'). The head is held until the first body
// bytes or the end, so a small response leaves in one write. Framing:
// Content-Length when the headers give one, else chunked for HTTP/1.1 and
// until-close for HTTP/1.0; none for HEAD, 1xx, 204 and 304.
import { EventEmitter } from 'node:events';
import { http } from '../node-http.ts';
import type net from 'node:net';
import type { SocketWriter } from '../tcp/socket-handle-write.ts';

// Node's rules for what may be in a header (checkIsHttpToken, checkInvalidHeaderChar).
const NAME = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

// Below this many bytes, a head and a body are copied into one buffer (Buffer's pool serves up to 4 KiB).
const COPY_BELOW = 4096;

type HeaderValue = string | number | readonly string[] | undefined;
export type ResponseHeaders = readonly string[] | Record<string, HeaderValue>;

/** What a response tells its connection, and what it writes with. */
export interface ResponseSink {
  /** Writes to the connection's socket; its pending writes hold the connection's 'drain'. */
  readonly writer: SocketWriter;
  /** Bytes written are waiting for the client to read them: write no more until 'drain'. */
  readonly needDrain: boolean;
  responseEnded(res: H1ServerResponse): void;
}

function headerError(name: string): TypeError {
  return Object.assign(new TypeError(`Invalid header ${JSON.stringify(name)}`), { code: 'ERR_INVALID_HTTP_TOKEN' });
}

export class H1ServerResponse extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  /** end() was called. */
  writableEnded = false;
  /** Kept for node:http compatibility; the proxy never adds a Date. */
  sendDate = false;
  /** The connection stays open after this response. */
  keepAlive: boolean;
  /** Trailers are only sent on chunked responses. */
  private trailers = '';
  private head: string | undefined;
  private chunked = false;
  private noBody: boolean;
  private readonly socket: net.Socket;
  private readonly sink: ResponseSink;
  private readonly minor: number;
  private closed = false;

  constructor(sink: ResponseSink, socket: net.Socket, minor: number, keepAlive: boolean, headRequest: boolean) {
    super();
    this.sink = sink;
    this.socket = socket;
    this.minor = minor;
    this.keepAlive = keepAlive;
    this.noBody = headRequest;
  }

  get writableFinished(): boolean {
    return this.writableEnded;
  }

  /** Emits 'close' once: when the response ended, or when the connection went first. */
  emitClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }

  writeHead(status: number, reason?: string | ResponseHeaders, headers?: ResponseHeaders): this {
    if (this.headersSent) throw Object.assign(new Error('Cannot write headers after they are sent to the client'), { code: 'ERR_HTTP_HEADERS_SENT' });
    if (typeof reason !== 'string') {
      headers = reason;
      reason = undefined;
    }
    this.statusCode = status;
    this.headersSent = true;
    let head = `HTTP/1.1 ${status} ${reason || http.STATUS_CODES[status] || 'unknown'}\r\n`;
    let length = false;
    let connection = false;
    const add = (name: string, value: string): void => {
      if (!NAME.test(name)) throw headerError(name);
      if (BAD_VALUE.test(value)) throw Object.assign(new TypeError(`Invalid character in header content ${JSON.stringify(name)}`), { code: 'ERR_INVALID_CHAR' });
      head += `${name}: ${value}\r\n`;
      const len = name.length;
      if (len === 14 || len === 17 || len === 10) {
        const lower = name.toLowerCase();
        if (lower === 'content-length') length = true;
        else if (lower === 'transfer-encoding') this.chunked = value.toLowerCase().includes('chunked');
        else if (lower === 'connection') {
          connection = true;
          if (value.toLowerCase().includes('close')) this.keepAlive = false;
        }
      }
    };
    if (Array.isArray(headers)) {
      for (let i = 0; i < headers.length; i += 2) add(headers[i] as string, headers[i + 1] as string);
    } else if (headers !== undefined) {
      const h = headers as Record<string, HeaderValue>;
      for (const name in h) {
        const v = h[name];
        if (v === undefined) continue;
        if (Array.isArray(v)) for (const x of v) add(name, x);
        else add(name, String(v));
      }
    }
    if (this.noBody || status < 200 || status === 204 || status === 304) {
      this.noBody = true;
      this.chunked = false;
    } else if (!length && !this.chunked) {
      if (this.minor === 1) {
        head += 'transfer-encoding: chunked\r\n';
        this.chunked = true;
      } else this.keepAlive = false; // HTTP/1.0: the body ends with the connection
    }
    if (!connection) {
      if (!this.keepAlive) head += 'connection: close\r\n';
      else if (this.minor === 0) head += 'connection: keep-alive\r\n';
    }
    this.head = `${head}\r\n`;
    return this;
  }

  /** Sends the head now (a stream whose first bytes come later). */
  flushHeaders(): void {
    if (!this.headersSent) this.writeHead(this.statusCode);
    if (this.head !== undefined) {
      this.sink.writer.write(this.head);
      this.head = undefined;
    }
  }

  write(chunk: Buffer | string): boolean {
    if (this.writableEnded) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const body = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.noBody || body.length === 0) {
      if (this.head !== undefined) this.flushHeaders();
      return !this.sink.needDrain;
    }
    const head = this.takeHead();
    if (this.chunked) return this.send(`${head}${body.length.toString(16)}\r\n`, body, '\r\n');
    return this.send(head, body, '');
  }

  addTrailers(trailers: Record<string, HeaderValue>): void {
    for (const name in trailers) {
      const v = trailers[name];
      if (v === undefined) continue;
      if (!NAME.test(name)) throw headerError(name);
      for (const x of Array.isArray(v) ? v : [String(v)]) {
        if (BAD_VALUE.test(x)) throw Object.assign(new TypeError(`Invalid character in trailer ${JSON.stringify(name)}`), { code: 'ERR_INVALID_CHAR' });
        this.trailers += `${name}: ${x}\r\n`;
      }
    }
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded) return this;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const body = chunk === undefined || this.noBody || chunk.length === 0 ? undefined : typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const head = this.takeHead();
    if (this.chunked) {
      const last = `0\r\n${this.trailers}\r\n`;
      if (body === undefined) this.send(`${head}${last}`, undefined, '', true);
      else this.send(`${head}${body.length.toString(16)}\r\n`, body, `\r\n${last}`, true);
    } else if (body !== undefined || head !== '') this.send(head, body, '', true);
    this.writableEnded = true;
    this.sink.responseEnded(this);
    return this;
  }

  /** The head if it is still to be sent (then it goes with the first bytes after it), else ''. */
  private takeHead(): string {
    const head = this.head;
    if (head === undefined) return '';
    this.head = undefined;
    return head;
  }

  /**
   * Writes prefix + body + suffix (the strings are latin1: heads and chunk framing) in one socket write:
   * copied into one buffer from Buffer's pool when small (straight to the socket's handle, see
   * tcp/socket-handle-write.ts), else corked into one writev without copying. False: wait for 'drain'.
   * `last` (from end()): a write that owns its bytes (not a view of the caller's body) may leave in a
   * burst with the turn's other messages when the event loop is busy (writeSoon()).
   */
  private send(prefix: string, body: Buffer | undefined, suffix: string, last = false): boolean {
    const w = this.sink.writer;
    if (body === undefined) return this.sendOwned(prefix + suffix, last);
    if (prefix === '' && suffix === '') return w.write(body);
    const total = prefix.length + body.length + suffix.length;
    if (total < COPY_BELOW) {
      const buf = Buffer.allocUnsafe(total);
      buf.write(prefix, 0, 'latin1');
      body.copy(buf, prefix.length);
      if (suffix !== '') buf.write(suffix, prefix.length + body.length, 'latin1');
      return this.sendOwned(buf, last);
    }
    w.flush();
    const s = this.socket;
    s.cork();
    if (prefix !== '') s.write(prefix, 'latin1');
    let ok = s.write(body);
    if (suffix !== '') ok = s.write(suffix, 'latin1');
    s.uncork();
    return ok && !this.sink.needDrain;
  }

  /** Writes bytes nobody else holds: the last write of a response may go in a burst (writeSoon), which takes no backpressure. */
  private sendOwned(data: Buffer | string, last: boolean): boolean {
    const w = this.sink.writer;
    if (!last) return w.write(data);
    w.writeSoon(data);
    return true;
  }

  /** Cuts the connection (the client sees the response fail). */
  destroy(err?: Error): this {
    this.sink.writer.flush();
    this.socket.destroy(err);
    return this;
  }
}
