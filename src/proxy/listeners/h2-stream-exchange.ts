// A downstream HTTP/2 request served from node:http2's raw 'stream' event
// instead of its compatibility API. The compat layer makes two stream objects
// per request (an Http2ServerRequest Readable that re-pushes every chunk, an
// Http2ServerResponse), hangs about a dozen listeners on the stream, builds a
// Proxy for `socket`, and always ends a response with an extra empty frame
// (it asks for trailers on every response). These two small classes give the
// request path the part of that API it uses (grep `ex.req` / `ex.res`); the
// request body is the ServerHttp2Stream itself. Streams of the proxy's own
// engine (h2/h2-stream.ts, the mTLS hop) offer the same calls and events.
import http2 from 'node:http2';
import type net from 'node:net';
import type { Writable } from 'node:stream';

type Listener = (...args: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any
type HeaderValue = string | string[] | number | undefined;

const { HTTP2_HEADER_STATUS, HTTP2_HEADER_CONTENT_LENGTH, NGHTTP2_INTERNAL_ERROR } = http2.constants;

// The response a stream belongs to, for listeners shared by every stream (no closure per request).
const RESPONSE = Symbol('mesh.h2Response');
type WithResponse = http2.ServerHttp2Stream & { [RESPONSE]?: H2StreamResponse };

// Errors of the stream (a reset by the client, mostly) are not the request's: as in the compat API, the
// exchange learns of them from the response's 'close' and cancels its upstream there.
function ignoreError(): void {}

function onStreamClose(this: WithResponse): void {
  const res = this[RESPONSE];
  if (res === undefined) return;
  this[RESPONSE] = undefined;
  res.emitClose();
}

function onStreamDrain(this: WithResponse): void {
  this[RESPONSE]?.emitDrain();
}

function onWantTrailers(this: WithResponse): void {
  try {
    this.sendTrailers((this[RESPONSE]?.trailers ?? {}) as http2.OutgoingHttpHeaders);
  } catch {
    // A trailer node:http2 refuses (invalid name or value from the upstream): the client sees a reset.
    this.close(NGHTTP2_INTERNAL_ERROR);
  }
}

/** The request side: headers, and the stream itself as the body (errors are not forwarded). */
export class H2StreamRequest {
  readonly stream: http2.ServerHttp2Stream;
  readonly headers: http2.IncomingHttpHeaders;
  readonly rawHeaders: string[];
  /** The connection's socket (TLS or plain); the compat API gave a Proxy of the session instead. */
  readonly socket: net.Socket | undefined;
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;
  readonly httpVersion = '2.0';

  constructor(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, rawHeaders: string[], socket: net.Socket | undefined) {
    this.stream = stream;
    this.headers = headers;
    this.rawHeaders = rawHeaders;
    this.socket = socket;
  }

  get method(): string | undefined {
    return this.headers[':method'];
  }

  get url(): string | undefined {
    return this.headers[':path'];
  }

  get readableDidRead(): boolean {
    return this.stream.readableDidRead;
  }

  on(event: string | symbol, listener: Listener): this {
    if (event !== 'error') this.stream.on(event, listener);
    return this;
  }

  once(event: string | symbol, listener: Listener): this {
    if (event !== 'error') this.stream.once(event, listener);
    return this;
  }

  removeListener(event: string | symbol, listener: Listener): this {
    this.stream.removeListener(event, listener);
    return this;
  }

  off(event: string | symbol, listener: Listener): this {
    return this.removeListener(event, listener);
  }

  pause(): this {
    this.stream.pause();
    return this;
  }

  resume(): this {
    this.stream.resume();
    return this;
  }

  pipe(dest: Writable, options?: { end?: boolean }): Writable {
    return this.stream.pipe(dest, options);
  }
}

/**
 * The response side. Emits 'close' once, when the stream closes (finished or
 * reset), and 'drain' after a write that returned false: the only two events
 * the request path listens to, kept in two small lists instead of an EventEmitter.
 */
export class H2StreamResponse {
  readonly stream: http2.ServerHttp2Stream;
  /** Whether node:http2 adds a Date header (the proxy passes the upstream's). */
  sendDate = true;
  /** Trailers to send when the body ends (addTrailers). */
  trailers: Record<string, HeaderValue> | undefined;
  private waitsForTrailers = false;
  private ending = false;
  private relaysDrain = false;
  private onClose: Listener[] | undefined;
  private onDrain: { fn: Listener; once: boolean }[] | undefined;

  constructor(stream: http2.ServerHttp2Stream) {
    this.stream = stream;
    (stream as WithResponse)[RESPONSE] = this;
    stream.on('error', ignoreError);
    stream.on('close', onStreamClose);
  }

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  /** The stream is gone: nothing more can be sent (the compat API ignored writes then too). */
  private get gone(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }

  /**
   * Sends the response head: a header object (lowercase names) or a flat
   * [name, value, ...] list. Trailers can follow only when the head says so:
   * a body of declared length without a Trailer header ends with its last DATA
   * frame, anything else keeps the stream open for trailers (gRPC).
   */
  writeHead(status: number, headers?: Record<string, HeaderValue> | string[]): this {
    if (this.gone || this.stream.headersSent) return this;
    let waitForTrailers: boolean;
    let out: Record<string, HeaderValue> | string[];
    if (Array.isArray(headers)) {
      waitForTrailers = mayHaveTrailersList(headers);
      out = headers;
      out.push(HTTP2_HEADER_STATUS, String(status));
    } else {
      out = headers ?? {};
      waitForTrailers = out[HTTP2_HEADER_CONTENT_LENGTH] === undefined || out.trailer !== undefined;
      out[HTTP2_HEADER_STATUS] = status;
    }
    this.waitsForTrailers = waitForTrailers;
    try {
      // sendDate is a respond() option node:http2 reads though its typings omit it.
      this.stream.respond(out as http2.OutgoingHttpHeaders, { endStream: false, waitForTrailers, sendDate: this.sendDate } as http2.ServerStreamResponseOptions);
    } catch {
      // A header node:http2 refuses (an invalid name or value from the upstream): the client sees a reset.
      this.stream.close(NGHTTP2_INTERNAL_ERROR);
    }
    return this;
  }

  write(chunk: Buffer | string): boolean {
    if (this.ending || this.gone) return false;
    if (!this.stream.headersSent) this.writeHead(200);
    if (this.stream.write(chunk)) return true;
    // Relayed only once a write has had to wait.
    if (!this.relaysDrain) {
      this.relaysDrain = true;
      this.stream.on('drain', onStreamDrain);
    }
    return false;
  }

  end(chunk?: Buffer | string): this {
    if (this.ending) return this;
    this.ending = true;
    if (this.gone) return this;
    if (!this.stream.headersSent) this.writeHead(200);
    if (this.trailers !== undefined && this.waitsForTrailers) this.stream.once('wantTrailers', onWantTrailers);
    if (this.stream.writableEnded) return this; // HEAD: node:http2 ended the writable side itself
    if (chunk !== undefined) this.stream.end(chunk);
    else this.stream.end();
    return this;
  }

  /** Trailers for the end of the body; dropped when the head did not leave room for them (see writeHead). */
  addTrailers(headers: Record<string, HeaderValue>): void {
    const t = (this.trailers ??= {});
    for (const k of Object.keys(headers)) t[k.toLowerCase()] = headers[k];
  }

  destroy(err?: Error): void {
    this.stream.destroy(err);
  }

  /** 'close' listeners are called once, with the response as `this`. */
  on(event: 'close' | 'drain', listener: Listener): this {
    if (event === 'close') (this.onClose ??= []).push(listener);
    else (this.onDrain ??= []).push({ fn: listener, once: false });
    return this;
  }

  once(event: 'close' | 'drain', listener: Listener): this {
    if (event === 'close') return this.on(event, listener);
    (this.onDrain ??= []).push({ fn: listener, once: true });
    return this;
  }

  removeListener(event: 'close' | 'drain', listener: Listener): this {
    if (event === 'close') {
      const i = this.onClose?.indexOf(listener) ?? -1;
      if (i !== -1) this.onClose!.splice(i, 1);
    } else {
      const i = this.onDrain?.findIndex((l) => l.fn === listener) ?? -1;
      if (i !== -1) this.onDrain!.splice(i, 1);
    }
    return this;
  }

  emitClose(): void {
    const ls = this.onClose;
    if (ls === undefined) return;
    this.onClose = undefined;
    for (let i = 0; i < ls.length; i++) ls[i]!.call(this);
  }

  emitDrain(): void {
    const ls = this.onDrain;
    if (ls === undefined || ls.length === 0) return;
    const now = ls.slice();
    this.onDrain = ls.filter((l) => !l.once);
    for (const l of now) l.fn.call(this);
  }
}

/** Whether a flat header list leaves room for trailers (no Content-Length, or a Trailer header). */
function mayHaveTrailersList(list: readonly string[]): boolean {
  let length = false;
  for (let i = 0; i < list.length; i += 2) {
    const n = list[i]!;
    if (n.length === 14 && n.toLowerCase() === 'content-length') length = true;
    else if (n.length === 7 && n.toLowerCase() === 'trailer') return true;
  }
  return !length;
}

/**
 * What node:http2's compat server did before a request handler ran: CONNECT is
 * refused (405), `expect: 100-continue` is answered, other expectations fail (417).
 * Returns false when the stream was answered here.
 */
export function admitH2Stream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean {
  if (headers[':method'] === 'CONNECT') {
    stream.respond({ [HTTP2_HEADER_STATUS]: 405 }, { endStream: true });
    return false;
  }
  const expect = headers.expect;
  if (expect === undefined) return true;
  if (expect === '100-continue') {
    stream.additionalHeaders({ [HTTP2_HEADER_STATUS]: 100 });
    return true;
  }
  stream.respond({ [HTTP2_HEADER_STATUS]: 417 }, { endStream: true });
  return false;
}
