// The mesh HTTP/2 engine: one connection between two sidecars (RFC 9113),
// written for the proxy's hot path instead of node:http2. Frames produced in
// one turn of the event loop leave in one socket write (one TLS record) at
// setImmediate, as node:http2 schedules its own writes; streams are small
// objects (h2-stream.ts). It speaks plain HTTP/2 on either side, so it talks
// to node:http2 and any other peer; the proxy uses it for the mTLS hop.
//
// Scope: no server push (ENABLE_PUSH 0), priorities ignored, no padding sent.
// Streams beyond the peer's concurrency limit are sent anyway and refused by
// the peer (REFUSED_STREAM, which retries treat as safe to retry).
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { HpackDecoder, HpackEncoder } from './hpack.ts';
import {
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  ErrorCode,
  FRAME_HEADER_BYTES,
  Flag,
  FrameType,
  MAX_WINDOW,
  PREFACE,
  Setting,
  frame,
  goawayFrame,
  settingsFrame,
  u32Frame,
  writeFrameHeader,
} from './frames.ts';
import { CONNECTION_SPECIFIC, NO_PSEUDO, REQUEST_PSEUDO, RESPONSE_PSEUDO, validFields } from './field-validation.ts';
import { headerObjectOf } from '../http/h1-incoming-request.ts';
import { H2ClientStream, H2ServerStream, H2Stream, H2StreamError, type HeaderObject, type OutgoingHeaders } from './h2-stream.ts';

export interface H2SessionOptions {
  /** SETTINGS_INITIAL_WINDOW_SIZE we announce (per stream). */
  streamWindow: number;
  /** Our connection-level receive window. */
  connectionWindow: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce (server side enforces it). */
  maxConcurrentStreams: number;
  /** Largest header list we accept (names + values + 32 per field). */
  maxHeaderListSize: number;
}

const DEFAULTS: H2SessionOptions = { streamWindow: 1 << 20, connectionWindow: 16 << 20, maxConcurrentStreams: 1000, maxHeaderListSize: 64 * 1024 };

/** Frames to send larger than this are written as their own buffer instead of copied into the batch. */
const COPY_LIMIT = 4096;
/** Past this many bytes buffered in the socket, stream data waits for 'drain'. */
const SOCKET_HIGH_WATER = 1 << 20;
/** A header block (HEADERS + CONTINUATION) larger than this ends the connection. */
const MAX_HEADER_BLOCK = 256 * 1024;
/** A client session stops opening streams here and asks for a new session ('goaway'). */
const LAST_CLIENT_STREAM_ID = 2 ** 31 - 1 - 2 * 1000;

// Connection-specific fields (RFC 9113 §8.2.2) never go on the wire, nor Host (it is :authority) or HTTP2-Settings.
const NOT_SENT: ReadonlySet<string> = new Set([...CONNECTION_SPECIFIC, 'http2-settings', 'host']);

let cachedDate = '';
let cachedDateSecond = -1;
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== cachedDateSecond) {
    cachedDateSecond = s;
    cachedDate = new Date(now).toUTCString();
  }
  return cachedDate;
}

function flushSession(s: H2Session): void {
  s.flush();
}

function askForTrailers(session: H2Session, s: H2Stream): void {
  if (s.closed || s.localEnded) return;
  if (s.listenerCount('wantTrailers') > 0) s.emit('wantTrailers');
  else session.endWithData(s);
}

export class H2Session extends EventEmitter {
  readonly socket: net.Socket;
  readonly isServer: boolean;
  private readonly opts: H2SessionOptions;
  private readonly streams = new Map<number, H2Stream>();
  private readonly encoder = new HpackEncoder();
  private readonly decoder = new HpackDecoder();
  // Sending.
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private sendWindow = DEFAULT_WINDOW;
  private peerStreamWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  /** Streams with data that waits for the connection window or a busy socket. */
  private readonly waiting = new Set<H2Stream>();
  private congested = false;
  // Receiving.
  private carry: Buffer | undefined;
  private prefaceLeft: number;
  private recvWindow = DEFAULT_WINDOW;
  private connUnacked = 0;
  private contStream = 0;
  private contFlags = 0;
  private contParts: Buffer[] | undefined;
  private contBytes = 0;
  // Lifecycle.
  private nextStreamId = 1;
  private lastPeerStreamId = 0;
  private goingAway = false;
  private closing = false;
  connecting: boolean;
  closed = false;
  destroyed = false;

  constructor(socket: net.Socket, isServer: boolean, options?: Partial<H2SessionOptions>) {
    super();
    this.socket = socket;
    this.isServer = isServer;
    this.opts = { ...DEFAULTS, ...options };
    this.prefaceLeft = isServer ? PREFACE.length : 0;
    // A client session is made right after connect() (a TLS one before its handshake, see mesh-h2.ts).
    this.connecting = !isServer && socket.connecting;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: Error) => this.destroy(err));
    socket.on('close', () => this.destroy());
    socket.on('drain', () => this.onSocketDrain());
    if (!isServer) {
      const ready = (socket as { encrypted?: boolean }).encrypted ? 'secureConnect' : 'connect';
      if (this.connecting)
        socket.once(ready, () => {
          this.connecting = false;
          if (this.destroyed) return;
          const alpn = (socket as { alpnProtocol?: string | false }).alpnProtocol;
          if (ready === 'secureConnect' && alpn !== 'h2') this.destroy(new H2StreamError('ERR_HTTP2_ERROR', `the peer did not choose HTTP/2 (ALPN ${alpn || 'none'})`));
          else {
            this.flush();
            this.emit('connect', this, socket);
          }
        });
      this.queue(PREFACE);
    }
    const o = this.opts;
    this.queue(
      settingsFrame([
        [Setting.ENABLE_PUSH, 0],
        [Setting.MAX_CONCURRENT_STREAMS, o.maxConcurrentStreams],
        [Setting.INITIAL_WINDOW_SIZE, o.streamWindow],
        [Setting.MAX_HEADER_LIST_SIZE, o.maxHeaderListSize],
      ]),
    );
    if (o.connectionWindow > DEFAULT_WINDOW) {
      this.queue(u32Frame(FrameType.WINDOW_UPDATE, 0, 0, o.connectionWindow - DEFAULT_WINDOW));
      this.recvWindow = o.connectionWindow;
    }
  }

  /** An idle session does not keep the process alive (UpstreamEndpoint's, as with node:http2). */
  unref(): void {
    this.socket.unref();
  }

  // ---- client

  /** Opens a stream with a request head (flat [name, value, ...] list or object, pseudo-headers anywhere). */
  request(headers: OutgoingHeaders, options?: { endStream?: boolean }): H2ClientStream {
    if (this.destroyed || this.closed) throw new H2StreamError('ERR_HTTP2_INVALID_SESSION', 'The session has been destroyed');
    if (this.goingAway) throw new H2StreamError('ERR_HTTP2_GOAWAY_SESSION', 'New streams cannot be created after receiving a GOAWAY');
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const s = new H2ClientStream(this, id, this.peerStreamWindow, this.opts.streamWindow);
    this.streams.set(id, s);
    const endStream = options?.endStream !== false;
    this.sendHeaders(s, headers, endStream, false);
    if (endStream) {
      s.writableEnded = true;
      s.localEnded = true;
    }
    if (this.nextStreamId > LAST_CLIENT_STREAM_ID) {
      this.goingAway = true;
      process.nextTick(() => this.emit('goaway', ErrorCode.NO_ERROR, 0));
    }
    return s;
  }

  // ---- sending

  private queue(buf: Buffer): void {
    this.out.push(buf);
    this.outBytes += buf.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(flushSession, this);
    }
  }

  /** Writes what this turn produced, in one write when small. */
  flush(): void {
    this.flushScheduled = false;
    const out = this.out;
    // A TLS client sends nothing before it knows the server chose h2; after end(), nothing more goes out.
    if (out.length === 0 || this.destroyed || this.connecting) return;
    this.out = [];
    const bytes = this.outBytes;
    this.outBytes = 0;
    const socket = this.socket;
    if (socket.writableEnded) return;
    if (out.length === 1) socket.write(out[0]!);
    else if (bytes <= 64 * 1024) socket.write(Buffer.concat(out, bytes));
    else {
      socket.cork();
      for (const b of out) socket.write(b);
      socket.uncork();
    }
    if (socket.writableLength > SOCKET_HIGH_WATER) this.congested = true;
  }

  /** HEADERS (+ CONTINUATION) for a head or trailers; pseudo-headers first, names lowercase. */
  sendHeaders(s: H2Stream, headers: OutgoingHeaders, endStream: boolean, addDate: boolean): void {
    const block = this.encoder.encode(wireHeaders(headers, addDate));
    const flags = endStream ? Flag.END_STREAM : 0;
    if (block.length <= this.peerMaxFrame) {
      this.queue(frame(FrameType.HEADERS, flags | Flag.END_HEADERS, s.id, block));
      return;
    }
    let at = 0;
    let type: number = FrameType.HEADERS;
    while (at < block.length) {
      const n = Math.min(this.peerMaxFrame, block.length - at);
      const last = at + n === block.length;
      this.queue(frame(type, (type === FrameType.HEADERS ? flags : 0) | (last ? Flag.END_HEADERS : 0), s.id, block.subarray(at, at + n)));
      at += n;
      type = FrameType.CONTINUATION;
    }
  }

  sendReset(s: H2Stream, code: number): void {
    if (!this.destroyed) this.queue(u32Frame(FrameType.RST_STREAM, 0, s.id, code));
  }

  /** Frames a stream's queued data as far as both windows and the socket allow; END_STREAM or trailers after it. */
  flushStream(s: H2Stream): void {
    if (this.destroyed || s.closed) return;
    const box = s.outbox;
    while (box.length > 0) {
      if (this.congested) {
        this.waiting.add(s);
        return;
      }
      const room = Math.min(s.sendWindow, this.sendWindow, this.peerMaxFrame);
      if (room <= 0) {
        // The stream's own window reopens with its WINDOW_UPDATE; the connection's for everyone.
        if (this.sendWindow <= 0) this.waiting.add(s);
        return;
      }
      let chunk = box[0]!;
      if (chunk.length > room) {
        box[0] = chunk.subarray(room);
        chunk = chunk.subarray(0, room);
      } else box.shift();
      s.outBytes -= chunk.length;
      s.sendWindow -= chunk.length;
      this.sendWindow -= chunk.length;
      const last = box.length === 0 && s.writableEnded && !s.waitForTrailers;
      this.queueData(s.id, chunk, last);
      if (last) {
        s.drained();
        s.localEndSent();
        return;
      }
    }
    s.drained();
    if (s.writableEnded && !s.localEnded && !s.trailersAsked) this.endStream(s);
  }

  /** The body is sent: END_STREAM on an empty DATA frame, or trailers when the stream waits for them. */
  private endStream(s: H2Stream): void {
    if (s.waitForTrailers) {
      // As node:http2: 'wantTrailers' after the last DATA frame, on a later tick (a listener added right
      // after end() still hears it); END_STREAM then comes with sendTrailers(), or alone without a listener.
      s.trailersAsked = true;
      process.nextTick(askForTrailers, this, s);
      return;
    }
    this.endWithData(s);
  }

  /** END_STREAM on an empty DATA frame. */
  endWithData(s: H2Stream): void {
    this.queueData(s.id, undefined, true);
    s.localEndSent();
  }

  private queueData(id: number, chunk: Buffer | undefined, end: boolean): void {
    const n = chunk?.length ?? 0;
    const flags = end ? Flag.END_STREAM : 0;
    if (n <= COPY_LIMIT) {
      const f = Buffer.allocUnsafe(FRAME_HEADER_BYTES + n);
      writeFrameHeader(f, 0, n, FrameType.DATA, flags, id);
      if (n > 0) chunk!.copy(f, FRAME_HEADER_BYTES);
      this.queue(f);
      return;
    }
    const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    writeFrameHeader(h, 0, n, FrameType.DATA, flags, id);
    this.queue(h);
    this.queue(chunk!);
  }

  private onSocketDrain(): void {
    this.congested = false;
    this.resumeWaiting();
  }

  private resumeWaiting(): void {
    if (this.waiting.size === 0) return;
    const ws = [...this.waiting];
    this.waiting.clear();
    for (const s of ws) this.flushStream(s);
  }

  /** The reader took `n` bytes of a stream's data: credit them back, in halves of each window. */
  consumed(s: H2Stream, n: number): void {
    this.creditConnection(n);
    s.unacked += n;
    if (s.unacked >= this.opts.streamWindow / 2 && !s.remoteEnded) {
      this.queue(u32Frame(FrameType.WINDOW_UPDATE, 0, s.id, s.unacked));
      s.recvWindow += s.unacked;
      s.unacked = 0;
    }
  }

  streamClosed(s: H2Stream, unread: number): void {
    if (unread > 0 && !this.destroyed) this.creditConnection(unread);
    this.streams.delete(s.id);
    this.waiting.delete(s);
    if (this.streams.size === 0 && (this.closing || this.goingAway) && !this.destroyed) this.endSocket();
  }

  // ---- receiving

  private onData(chunk: Buffer): void {
    let buf = chunk;
    if (this.carry !== undefined) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    }
    let at = 0;
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, buf.length);
      const from = PREFACE.length - this.prefaceLeft;
      if (buf.compare(PREFACE, from, from + n, 0, n) !== 0) {
        this.destroy(new H2StreamError('ERR_HTTP2_ERROR', 'Not an HTTP/2 connection preface'));
        return;
      }
      this.prefaceLeft -= n;
      at = n;
    }
    const end = buf.length;
    while (end - at >= FRAME_HEADER_BYTES) {
      const len = (buf[at]! << 16) | (buf[at + 1]! << 8) | buf[at + 2]!;
      if (len > DEFAULT_MAX_FRAME) {
        this.fail(ErrorCode.FRAME_SIZE_ERROR, `frame of ${len} bytes`);
        return;
      }
      if (end - at - FRAME_HEADER_BYTES < len) break;
      const type = buf[at + 3]!;
      const flags = buf[at + 4]!;
      const id = buf.readUInt32BE(at + 5) & 0x7fffffff;
      const start = at + FRAME_HEADER_BYTES;
      at = start + len;
      this.onFrame(type, flags, id, buf, start, at);
      if (this.destroyed) return;
    }
    if (at < end) this.carry = buf.subarray(at);
  }

  private onFrame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.contParts !== undefined && type !== FrameType.CONTINUATION) {
      this.fail(ErrorCode.PROTOCOL_ERROR, 'expected CONTINUATION');
      return;
    }
    switch (type) {
      case FrameType.DATA:
        this.onDataFrame(flags, id, buf, start, end);
        return;
      case FrameType.HEADERS:
        this.onHeadersFrame(flags, id, buf, start, end);
        return;
      case FrameType.CONTINUATION:
        this.onContinuation(flags, id, buf, start, end);
        return;
      case FrameType.RST_STREAM:
        if (end - start !== 4 || id === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'bad RST_STREAM');
        this.streams.get(id)?.peerReset(buf.readUInt32BE(start));
        return;
      case FrameType.SETTINGS:
        this.onSettings(flags, id, buf, start, end);
        return;
      case FrameType.PING:
        if (end - start !== 8 || id !== 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'bad PING');
        if ((flags & Flag.ACK) === 0) this.queue(frame(FrameType.PING, Flag.ACK, 0, buf.subarray(start, end)));
        return;
      case FrameType.GOAWAY:
        if (end - start < 8 || id !== 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'bad GOAWAY');
        this.onGoaway(buf.readUInt32BE(start) & 0x7fffffff, buf.readUInt32BE(start + 4));
        return;
      case FrameType.WINDOW_UPDATE:
        if (end - start !== 4) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'bad WINDOW_UPDATE');
        this.onWindowUpdate(id, buf.readUInt32BE(start) & 0x7fffffff);
        return;
      case FrameType.PUSH_PROMISE:
        this.fail(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE with push disabled');
        return;
      default:
      // PRIORITY and unknown types are ignored.
    }
  }

  private onDataFrame(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    const len = end - start;
    this.recvWindow -= len;
    if (this.recvWindow < 0) return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'connection window exceeded');
    const s = id === 0 ? undefined : this.streams.get(id);
    if (flags & Flag.PADDED) {
      if (len === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'bad padding');
      const pad = buf[start]!;
      start++;
      end -= pad;
      if (end < start) return this.fail(ErrorCode.PROTOCOL_ERROR, 'bad padding');
    }
    const data = end - start;
    if (s === undefined || s.remoteEnded) {
      // A stream we reset or never had: its bytes still count against the connection window.
      this.creditConnection(len);
      if (id === 0 || id > this.lastOpenedId()) return this.fail(ErrorCode.PROTOCOL_ERROR, 'DATA on an idle stream');
      return;
    }
    s.recvWindow -= len;
    if (s.recvWindow < 0) {
      s.close(ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    // Padding is credited at once; data when the reader takes it.
    if (len > data) this.consumed(s, len - data);
    if (data > 0) s.receive(buf.subarray(start, end));
    if (flags & Flag.END_STREAM) s.receiveEnd();
  }

  /** Connection-level credit for `n` bytes taken or dropped, sent once half the window is owed. */
  private creditConnection(n: number): void {
    this.connUnacked += n;
    if (this.connUnacked >= this.opts.connectionWindow / 2) {
      this.queue(u32Frame(FrameType.WINDOW_UPDATE, 0, 0, this.connUnacked));
      this.recvWindow += this.connUnacked;
      this.connUnacked = 0;
    }
  }

  private lastOpenedId(): number {
    return this.isServer ? this.lastPeerStreamId : this.nextStreamId - 2;
  }

  private onHeadersFrame(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    if (flags & Flag.PADDED) {
      const pad = buf[start]!;
      start++;
      end -= pad;
    }
    if (flags & Flag.PRIORITY) start += 5;
    if (end < start) return this.fail(ErrorCode.PROTOCOL_ERROR, 'bad HEADERS padding');
    if (flags & Flag.END_HEADERS) {
      this.onHeaderBlock(id, flags, buf.subarray(start, end));
      return;
    }
    this.contStream = id;
    this.contFlags = flags;
    this.contParts = [Buffer.from(buf.subarray(start, end))];
    this.contBytes = end - start;
  }

  private onContinuation(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.contParts === undefined || id !== this.contStream) return this.fail(ErrorCode.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    this.contBytes += end - start;
    if (this.contBytes > MAX_HEADER_BLOCK) return this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
    this.contParts.push(Buffer.from(buf.subarray(start, end)));
    if ((flags & Flag.END_HEADERS) === 0) return;
    const block = Buffer.concat(this.contParts);
    this.contParts = undefined;
    this.onHeaderBlock(id, this.contFlags, block);
  }

  private onHeaderBlock(id: number, flags: number, block: Buffer): void {
    let list: string[];
    try {
      list = this.decoder.decode(block);
    } catch {
      this.fail(ErrorCode.COMPRESSION_ERROR, 'bad header block');
      return;
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const s = this.streams.get(id);
    if (this.isServer && s === undefined) this.onRequestHead(id, list, flags, endStream);
    else if (s !== undefined) this.onHeadOrTrailers(s, list, flags, endStream);
    // else: headers for a stream we already closed (reset by us): the decoder state is all that mattered.
  }

  private onRequestHead(id: number, list: string[], flags: number, endStream: boolean): void {
    if (id % 2 === 0) {
      this.fail(ErrorCode.PROTOCOL_ERROR, 'HEADERS on a server stream id');
      return;
    }
    if (id <= this.lastPeerStreamId) {
      // Trailers for a stream already closed here (answered, or reset): only the HPACK state mattered.
      return;
    }
    this.lastPeerStreamId = id;
    const s = new H2ServerStream(this, id, this.peerStreamWindow, this.opts.streamWindow);
    if (this.goingAway || this.closing || this.streams.size >= this.opts.maxConcurrentStreams) {
      this.sendReset(s, ErrorCode.REFUSED_STREAM);
      return;
    }
    const headers = headerObjectOf(list);
    if (headerListSize(list) > this.opts.maxHeaderListSize || !validRequestHead(list, headers)) {
      this.sendReset(s, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    this.streams.set(id, s);
    s.method = headers[':method'] as string;
    if (endStream) {
      s.endAfterHeaders = true;
      s.remoteEnded = true;
    }
    this.emit('stream', s, headers, flags, list);
  }

  private onHeadOrTrailers(s: H2Stream, list: string[], flags: number, endStream: boolean): void {
    if (s.remoteEnded) {
      s.close(ErrorCode.STREAM_CLOSED);
      return;
    }
    const head = s instanceof H2ClientStream && !s.responded;
    if (!validFields(list, head ? RESPONSE_PSEUDO : NO_PSEUDO)) {
      s.fail(ErrorCode.PROTOCOL_ERROR, head ? 'a malformed response head' : 'malformed trailers');
      return;
    }
    const headers = headerObjectOf(list);
    if (head) {
      const status = Number(headers[':status']);
      if (!(status >= 100 && status <= 999)) {
        s.fail(ErrorCode.PROTOCOL_ERROR, 'a response without a valid :status');
        return;
      }
      if (status >= 100 && status < 200) {
        s.emit('headers', headers, flags, list);
        return;
      }
      s.responded = true;
      if (endStream) s.endAfterHeaders = true;
      s.emit('response', headers, flags, list);
    } else s.emit('trailers', headers, flags, list);
    if (endStream) s.receiveEnd();
  }

  private onSettings(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id !== 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flag.ACK) return;
    if ((end - start) % 6 !== 0) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'bad SETTINGS');
    let widened = false;
    for (let at = start; at < end; at += 6) {
      const key = buf.readUInt16BE(at);
      const value = buf.readUInt32BE(at + 2);
      if (key === Setting.HEADER_TABLE_SIZE) this.encoder.setMaxTableSize(value);
      else if (key === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'initial window too large');
        const delta = value - this.peerStreamWindow;
        this.peerStreamWindow = value;
        for (const s of this.streams.values()) s.sendWindow += delta;
        if (delta > 0) widened = true;
      } else if (key === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > 16_777_215) return this.fail(ErrorCode.PROTOCOL_ERROR, 'bad MAX_FRAME_SIZE');
        this.peerMaxFrame = value;
      }
    }
    this.queue(frame(FrameType.SETTINGS, Flag.ACK, 0));
    this.emit('remoteSettings');
    if (widened) for (const s of [...this.streams.values()]) if (s.outbox.length > 0) this.flushStream(s);
  }

  private onWindowUpdate(id: number, inc: number): void {
    if (id === 0) {
      if (inc === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'zero WINDOW_UPDATE');
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW) return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
      this.resumeWaiting();
      return;
    }
    const s = this.streams.get(id);
    if (s === undefined) return;
    if (inc === 0) return s.close(ErrorCode.PROTOCOL_ERROR);
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) return s.close(ErrorCode.FLOW_CONTROL_ERROR);
    this.flushStream(s);
  }

  private onGoaway(lastStreamId: number, code: number): void {
    this.goingAway = true;
    if (!this.isServer) {
      // Streams the peer never saw are refused: safe to retry elsewhere.
      for (const s of [...this.streams.values()]) if (s.id > lastStreamId) s.peerReset(ErrorCode.REFUSED_STREAM);
    }
    this.emit('goaway', code, lastStreamId);
    if (this.streams.size === 0) this.endSocket();
  }

  // ---- ending

  /** Sends GOAWAY with `code` now (the abuse guard's, before it destroys the session). */
  goaway(code: number = ErrorCode.NO_ERROR): void {
    if (this.destroyed) return;
    this.goingAway = true;
    this.queue(goawayFrame(this.lastPeerStreamId, code));
    this.flush();
  }

  /** Graceful: GOAWAY, streams in flight finish, then the connection closes. */
  close(cb?: () => void): void {
    if (cb) this.once('close', cb);
    if (this.closing || this.destroyed) return;
    this.closing = true;
    this.closed = true;
    this.queue(goawayFrame(this.lastPeerStreamId, ErrorCode.NO_ERROR));
    if (this.streams.size === 0) this.endSocket();
  }

  private endSocket(): void {
    this.flush();
    this.socket.end();
  }

  /** A connection error: GOAWAY with the code, then the connection is cut. */
  private fail(code: number, why: string): void {
    if (this.destroyed) return;
    this.queue(goawayFrame(this.lastPeerStreamId, code));
    this.flush();
    this.destroy(new H2StreamError('ERR_HTTP2_SESSION_ERROR', `HTTP/2 connection error ${code}: ${why}`));
  }

  destroy(err?: Error): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closed = true;
    this.flushScheduled = false;
    const cause = err ?? new H2StreamError('ERR_HTTP2_STREAM_CANCEL', 'The connection closed');
    // Streams of a session that never connected fail with the connect error as their cause (as node:http2).
    const streamErr = this.connecting && err ? new H2StreamError('ERR_HTTP2_STREAM_CANCEL', 'The pending stream has been canceled', err) : cause;
    for (const s of [...this.streams.values()]) s.sessionGone(streamErr);
    this.streams.clear();
    this.waiting.clear();
    if (!this.socket.destroyed) {
      if (err) this.socket.destroy();
      else this.socket.end();
    }
    if (err) this.emit('error', err);
    this.emit('close');
  }
}

/** A flat list for the encoder: pseudo-headers first, names lowercase, connection-specific fields dropped. */
function wireHeaders(headers: OutgoingHeaders, addDate: boolean): string[] {
  const out: string[] = [];
  let regular: string[] | undefined;
  let hasDate = false;
  const add = (name: string, value: string): void => {
    if (name.charCodeAt(0) === 58 /* : */) {
      out.push(name, value);
      return;
    }
    let n = name;
    for (let i = 0; i < n.length; i++) {
      const c = n.charCodeAt(i);
      if (c >= 65 && c <= 90) {
        n = n.toLowerCase();
        break;
      }
    }
    if (NOT_SENT.has(n) || (n === 'te' && value !== 'trailers')) return;
    if (n === 'date') hasDate = true;
    (regular ??= []).push(n, value);
  };
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) add(headers[i]!, headers[i + 1]!);
  } else {
    for (const name of Object.keys(headers)) {
      const v = headers[name];
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) add(name, String(x));
      else add(name, String(v));
    }
  }
  if (addDate && !hasDate && out.length > 0 && out[0] === ':status') (regular ??= []).push('date', httpDate());
  if (regular !== undefined) for (let i = 0; i < regular.length; i++) out.push(regular[i]!);
  return out;
}

function headerListSize(list: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < list.length; i++) n += list[i]!.length;
  return n + 16 * list.length;
}

/** A well-formed request head with :method and (unless CONNECT) :scheme and a non-empty :path. */
function validRequestHead(list: readonly string[], h: HeaderObject): boolean {
  if (!validFields(list, REQUEST_PSEUDO)) return false;
  const method = h[':method'];
  if (typeof method !== 'string') return false;
  if (method === 'CONNECT') return true;
  return typeof h[':path'] === 'string' && typeof h[':scheme'] === 'string' && h[':path'] !== '';
}
