// The proxy's own HTTP/1.1 server side, one object per downstream connection:
// parses requests with http/h1-request-parser.ts and hands each to the
// request path as an (H1IncomingRequest, H1ServerResponse) pair, one at a
// time. node:http's server did this before; its per-request machinery
// (parser callbacks into JS, two streams, header processing, several ticks)
// was most of a hop's CPU. Keep-alive, pipelining (later requests wait in the
// socket until the response before them ends), Expect: 100-continue,
// Upgrade hand-over, request bodies with backpressure, no reading ahead of a
// client that does not read its responses, a head timeout (slowloris), an idle
// timeout and a lingering close are handled here.
import type net from 'node:net';
import { H1RequestParser, type RequestEvents, type RequestHeadInfo } from '../http/h1-request-parser.ts';
import { ParseError } from '../http/h1-message-parser.ts';
import { H1IncomingRequest, type BodySource } from '../http/h1-incoming-request.ts';
import { H1ServerResponse, type ResponseSink } from '../http/h1-server-response.ts';
import { readIntoBuffer } from '../tcp/socket-read-buffer.ts';
import { SocketWriter } from '../tcp/socket-handle-write.ts';

export interface H1ServerOptions {
  /** Most time from a request's first byte to the end of its head; then 408. */
  headersTimeoutMs: number;
  /** Most time a connection may sit idle between requests. */
  keepAliveTimeoutMs: number;
  onRequest(req: H1IncomingRequest, res: H1ServerResponse): void;
  onUpgrade(req: H1IncomingRequest, socket: net.Socket, head: Buffer): void;
  /** A request the parser refused (malformed, too large, too slow): already answered with `status`. */
  onProtocolError(status: number, code: string, message: string): void;
}

// Refusals: the status that says why (default 400).
const ERROR_STATUS: Record<string, [number, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_INVALID_TRANSFER_ENCODING: [501, 'Not Implemented'],
};

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
/** Lingering close: how long the client may go on sending after the connection's last response left. */
const LINGER_MS = 2000;
const EMPTY = Buffer.alloc(0);
const CONNECTION = Symbol('mesh.h1Connection');

// Plain TCP connections read into this one buffer (tcp/socket-read-buffer.ts): no Buffer, Readable push
// or 'data' event per read. One is enough for all: each read is parsed before the next, and whatever is
// kept past the read (body chunks, pipelined bytes, a split head) is copied.
const SHARED_READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);

/** The HTTP/1 server connection on a socket, if there is one. */
export function h1ConnectionOf(socket: net.Socket): H1ServerConnection | undefined {
  return (socket as unknown as { [CONNECTION]?: H1ServerConnection })[CONNECTION];
}

function ignore(): void {}

function emitDone(res: H1ServerResponse): void {
  res.emit('finish');
  res.emitClose();
}

export class H1ServerConnection implements RequestEvents, BodySource, ResponseSink {
  readonly socket: net.Socket;
  /** Responses go straight to the socket's handle (tcp/socket-handle-write.ts); a pending write counts as a full buffer. */
  readonly writer: SocketWriter;
  private readonly opts: H1ServerOptions;
  private readonly parser: H1RequestParser;
  /** The request whose head or body is being read. */
  private req: H1IncomingRequest | undefined;
  /** The response in progress (undefined between requests). */
  private res: H1ServerResponse | undefined;
  /** Bytes after a complete request, waiting for its response to end (or for the client to read what was written). */
  private held: Buffer | undefined;
  /** An Upgrade request: the socket is handed over after its head. */
  private upgrading: H1IncomingRequest | undefined;
  /** The request body's buffer is full: the socket waits for a read. */
  private bodyPaused = false;
  /** The response ended before the request body did: the rest is read and dropped. */
  private dumping = false;
  /** Close after the response in progress (drain). */
  private closeAfter = false;
  /** The client half-closed: the requests it sent are answered, then the connection closes. */
  private clientEnded = false;
  /** Inside feed(). */
  private feeding = false;
  /** Requests are held until the client reads what was written (the socket's 'drain'). */
  private awaitingDrain = false;
  /** The last response ended and the connection is closing: whatever the client sends now is ignored. */
  private closing = false;
  /** When the head being read began (0: no partial head). */
  private headStartMs = 0;
  /** When the connection last became idle (opened, or a response ended). */
  private idleSinceMs = Date.now();
  private readonly timer: NodeJS.Timeout;
  /** Reads land in SHARED_READ_BUFFER: what is kept must be copied. */
  private readonly shared: boolean;
  /** Handed over to an Upgrade handler: reads go to the socket's own Readable again. */
  private upgraded = false;
  private readonly onData = (data: Buffer): void => this.feed(data);
  private readonly onRead = (n: number, buf: Buffer): boolean => {
    const data = n === buf.length ? buf : buf.subarray(0, n);
    // As the socket would without a read buffer: a copy into its Readable ('data', pipe(), backpressure).
    if (this.upgraded) return this.socket.push(Buffer.from(data));
    this.feed(data);
    return true;
  };

  constructor(socket: net.Socket, opts: H1ServerOptions) {
    this.socket = socket;
    this.opts = opts;
    this.parser = new H1RequestParser(this);
    this.parser.reset();
    (socket as unknown as { [CONNECTION]?: H1ServerConnection })[CONNECTION] = this;
    socket.on('end', () => this.onSocketEnd());
    socket.on('close', () => this.onClose());
    socket.on('drain', () => this.onDrain());
    this.writer = new SocketWriter(socket, () => this.onDrain());
    // One timer per connection, refreshed per response: it checks the head and idle deadlines when it fires.
    this.timer = setTimeout(() => this.onTimer(), Math.min(opts.headersTimeoutMs, opts.keepAliveTimeoutMs));
    this.timer.unref();
    this.shared = readIntoBuffer(socket, SHARED_READ_BUFFER, this.onRead);
    if (!this.shared) socket.on('data', this.onData);
    // Bytes the socket buffered before (peeked by protocol detection) come first.
    else for (let chunk: Buffer | null; !this.upgraded && (chunk = socket.read() as Buffer | null) !== null; ) this.feed(chunk);
    // Detection left the socket paused: reading starts now, unless those bytes already hold it back.
    if (!this.upgraded && this.held === undefined && !this.bodyPaused) socket.resume();
  }

  /** `data` as a buffer of its own, when it may be a view of the shared read buffer. */
  private own(data: Buffer): Buffer {
    return this.shared ? Buffer.from(data) : data;
  }

  // Parser events -------------------------------------------------------------------------------

  onRequest(method: string, url: string, rawHeaders: string[], info: RequestHeadInfo): void {
    this.headStartMs = 0;
    const req = new H1IncomingRequest(this, this.socket, method, url, rawHeaders, info.minor, info.hasBody);
    this.req = req;
    this.dumping = false;
    if (info.upgrade) {
      this.upgrading = req;
      return;
    }
    const res = new H1ServerResponse(this, this.socket, info.minor, this.parser.keepAlive && !this.closeAfter, method === 'HEAD');
    this.res = res;
    if (info.expectContinue) this.writer.write(CONTINUE);
    this.opts.onRequest(req, res);
  }

  onBody(chunk: Buffer): void {
    const req = this.req!;
    if (this.dumping || req.destroyed) return;
    if (!req.push(this.own(chunk))) {
      this.bodyPaused = true;
      this.socket.pause();
    }
  }

  onEnd(trailers: string[] | undefined): void {
    const req = this.req!;
    if (trailers !== undefined) req.rawTrailers = trailers;
    if (req.complete) return; // bodiless: ends when read
    req.complete = true;
    if (!this.dumping && !req.destroyed) req.push(null);
  }

  // Body backpressure ---------------------------------------------------------------------------

  resumeBody(): void {
    if (!this.bodyPaused) return;
    this.bodyPaused = false;
    if (this.held === undefined) this.socket.resume();
  }

  // Reading -------------------------------------------------------------------------------------

  private feed(data: Buffer): void {
    if (this.closing) return;
    // A response that ends inside this read must not close a half-closed connection while requests after it
    // are still to be parsed.
    this.feeding = true;
    try {
      this.parse(data);
    } finally {
      this.feeding = false;
    }
    this.closeIfClientDone();
  }

  private parse(data: Buffer): void {
    let off = 0;
    while (off < data.length) {
      if (this.parser.complete) {
        // The request before is read; its response is not done: later requests wait.
        if (this.res !== undefined) {
          this.hold(off === 0 ? data : data.subarray(off));
          return;
        }
        // The client does not read its responses: later requests wait for it to, or each small request it
        // pipelines would queue a response in memory (30 MiB of 404s sent, never read, grew the proxy 500 MiB).
        if (this.needDrain) {
          this.awaitingDrain = true;
          this.hold(off === 0 ? data : data.subarray(off));
          return;
        }
        this.parser.reset();
      }
      try {
        off += this.parser.execute(off === 0 ? data : data.subarray(off));
      } catch (err) {
        // Only the parser's refusals; a failure in the request path is a bug and must surface.
        if (!(err instanceof ParseError)) throw err;
        this.refuse(err);
        return;
      }
      if (this.upgrading !== undefined) {
        this.handOver(this.upgrading, off < data.length ? data.subarray(off) : EMPTY);
        return;
      }
      // A response that ended inside this read (a 404, a refusal) may have closed the connection: pipelined
      // requests after it must not be parsed, let alone forwarded.
      if (this.socket.destroyed || this.closing) return;
    }
    if (this.parser.headBegun && this.headStartMs === 0) this.headStartMs = Date.now();
  }

  get needDrain(): boolean {
    return this.writer.pending || this.socket.writableNeedDrain;
  }

  private onDrain(): void {
    if (this.needDrain) return; // the writer's writes are out, the socket's own buffer is not (or the reverse)
    if (this.res !== undefined) this.res.emit('drain');
    else if (this.awaitingDrain) {
      this.awaitingDrain = false;
      this.releaseHeld();
    }
  }

  /** Goes on with the requests held back (the response before them ended, or the client read its answers). */
  private releaseHeld(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    // Not from inside the read (the upstream's, or a write's callback) that got us here.
    process.nextTick(() => {
      if (this.socket.destroyed) return;
      if (!this.bodyPaused) this.socket.resume();
      this.feed(held);
    });
  }

  private hold(rest: Buffer): void {
    this.held = this.held === undefined ? this.own(rest) : Buffer.concat([this.held, rest]);
    this.socket.pause();
  }

  private handOver(req: H1IncomingRequest, head: Buffer): void {
    this.upgrading = undefined;
    this.writer.flush(); // the responses before it, then whatever the upgrade handler writes
    clearTimeout(this.timer);
    this.socket.removeListener('data', this.onData);
    this.upgraded = true;
    // As node:http does: bytes wait in the socket until the upgrade handler reads or pipes them.
    (this.socket as unknown as { readableFlowing: boolean | null }).readableFlowing = null;
    (this.socket as unknown as { [CONNECTION]?: H1ServerConnection })[CONNECTION] = undefined;
    this.opts.onUpgrade(req, this.socket, this.own(head));
  }

  // Writing -------------------------------------------------------------------------------------

  responseEnded(res: H1ServerResponse): void {
    this.res = undefined;
    this.idleSinceMs = Date.now();
    // At once, not on a later tick as node:http does: its listeners only record the exchange.
    emitDone(res);
    if (!res.keepAlive || this.closeAfter) {
      this.closeSoon();
      return;
    }
    // Whatever is left of this request's body is read and dropped, not waited for: an unread body must
    // not keep the socket paused for the requests after it.
    const paused = this.bodyPaused;
    this.bodyPaused = false;
    if (!this.parser.complete) {
      // The proxy answered before reading the whole body (an error, a 404).
      this.dumping = true;
      if (paused && this.held === undefined) this.socket.resume();
      return;
    }
    if (this.held !== undefined) this.releaseHeld();
    else {
      if (paused) this.socket.resume();
      this.closeIfClientDone();
    }
  }

  /** After a half-close: closes once every request the client sent is answered. */
  private closeIfClientDone(): void {
    if (this.clientEnded && !this.feeding && this.res === undefined && this.held === undefined && this.upgrading === undefined && !this.upgraded) this.closeSoon();
  }

  /**
   * Ends the connection after what is written so far, with a lingering close: closing a socket that has
   * unread bytes from the client (pipelined requests after a Connection: close, the rest of a body) sends
   * a RST instead of a FIN, and a RST can make the client's kernel drop the tail of the response before the
   * client reads it. So what the client still sends is read and dropped (feed ignores it) until it ends
   * too (both ends closed: the socket destroys itself) or LINGER_MS after our last byte left.
   */
  private closeSoon(): void {
    if (this.closing) return;
    this.closing = true;
    this.idleSinceMs = Date.now();
    const s = this.socket;
    if (s.destroyed) return;
    this.writer.flush();
    s.resume();
    const linger = (): void => {
      setTimeout(() => s.destroy(), LINGER_MS).unref();
    };
    if (s.writableFinished) linger();
    else {
      s.once('finish', linger);
      s.end();
    }
  }

  // Connection life -----------------------------------------------------------------------------

  private onSocketEnd(): void {
    // The client half-closed: answer the requests it sent (the one in progress and any pipelined after it,
    // which may have been read before the end), then close.
    // After an Upgrade the handler owns the socket and its half-close (a tunnel's other side may still talk).
    if (this.upgraded) return;
    this.clientEnded = true;
    // Already closing (the rest was being dropped): the socket closes itself once our last bytes are out.
    if (this.closing) return;
    if (this.req !== undefined && !this.parser.complete && !this.parser.inHead) {
      this.destroySocket(); // a request body cut short
      return;
    }
    this.closeIfClientDone();
  }

  private onClose(): void {
    clearTimeout(this.timer);
    const req = this.req;
    if (req !== undefined && !req.complete && !req.destroyed) {
      // The error is emitted on a later tick, after the response's 'close' below has let the request path
      // detach its listeners (the upstream body pipe drops its 'error' listener on abort): without one of
      // ours it would be an uncaught exception that kills the proxy.
      if (req.listenerCount('error') > 0) {
        req.on('error', ignore);
        req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
      } else req.destroy();
    }
    const res = this.res;
    this.res = undefined;
    // Not ended by the proxy: the client left first.
    if (res !== undefined) res.emitClose();
  }

  private onTimer(): void {
    if (this.socket.destroyed) return;
    const now = Date.now();
    if (this.closing) {
      // Still writing the last response to a client that does not read it: cut after the idle timeout.
      if (now - this.idleSinceMs >= this.opts.keepAliveTimeoutMs) this.destroySocket();
      else this.timer.refresh();
      return;
    }
    if (this.res !== undefined || (this.req !== undefined && !this.parser.complete && !this.parser.inHead)) {
      this.timer.refresh(); // a request in progress: timeouts are the route's business
      return;
    }
    if (this.headStartMs !== 0) {
      if (now - this.headStartMs >= this.opts.headersTimeoutMs) {
        this.refuse(Object.assign(new Error('request head not received in time'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }));
        return;
      }
      this.timer.refresh();
      return;
    }
    // Idle between requests (or since the connection opened).
    if (now - this.idleSinceMs >= this.opts.keepAliveTimeoutMs) this.destroySocket();
    else this.timer.refresh();
  }

  /** Answers a request the parser refused, then closes. */
  private refuse(err: Error & { code?: string }): void {
    const code = err.code ?? 'HPE_INVALID';
    const [status, text] = ERROR_STATUS[code] ?? [400, 'Bad Request'];
    const s = this.socket;
    this.opts.onProtocolError(status, code, err.message);
    if (this.res !== undefined || this.req?.complete === false) {
      // Mid-exchange (a malformed body): no clean answer is possible.
      this.destroySocket();
      return;
    }
    if (s.writable) this.writer.write(`HTTP/1.1 ${status} ${text}\r\nx-mesh-error: downstream-protocol-error ${code}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    this.closeSoon();
  }

  /** Closes the connection at once, after the responses the writer holds (writeSoon): they were ended before it. */
  private destroySocket(): void {
    this.writer.flush();
    this.socket.destroy();
  }

  /** Drain: close now when idle, else after the response in progress (which then says Connection: close). */
  closeWhenIdle(): void {
    if (this.res === undefined && (this.req === undefined || this.parser.complete || this.parser.inHead) && this.headStartMs === 0) {
      this.destroySocket();
      return;
    }
    this.closeAfter = true;
    if (this.res !== undefined && !this.res.headersSent) this.res.keepAlive = false;
  }
}
