// One direction of an opaque TCP connection between two plain TCP sockets:
// every read lands in a reused buffer and is written to `dst` at once, no
// stream machinery in between (reads: socket-read-buffer.ts; writes straight
// to dst's handle: socket-handle-write.ts). The buffer is shared with other
// forwarders while writes complete at once (shared-read-buffers.ts). A write
// the kernel did not take whole still holds the buffer, which becomes this
// forwarder's own, so reading stops until `dst` has flushed it: that is the
// backpressure, with one buffer in flight per direction (as HAProxy's bufsize).
// The source's end half-closes `dst` once its writes are out.
import type net from 'node:net';
import { readIntoBuffer, type OnRead } from './socket-read-buffer.ts';
import { SocketWriter } from './socket-handle-write.ts';
import { SharedReadBuffer, type SharedBufferReader } from './shared-read-buffers.ts';

// The 1 KB-ish messages of request/response protocols fit in one read; a bulk transfer
// takes one read per 16 KiB (libuv reads again at once while the buffer comes back full).
const READ_BUFFER_BYTES = 16 * 1024;

export class ByteForwarder implements SharedBufferReader {
  private readonly dst: net.Socket;
  private src: net.Socket | undefined;
  // Shared until a write from it stays pending; then `buffer` is this forwarder's own.
  private shared: SharedReadBuffer | undefined;
  private buffer: Buffer;
  private readonly writer: SocketWriter;
  // The last partial view written (of `viewOf`): request/response traffic often reads the same length again.
  private view: Buffer;
  private viewOf: Buffer;

  constructor(dst: net.Socket) {
    this.dst = dst;
    this.shared = SharedReadBuffer.join(this, READ_BUFFER_BYTES);
    this.buffer = this.view = this.viewOf = this.shared.buffer;
    this.writer = new SocketWriter(dst, () => this.src?.resume());
  }

  /** net.connect's `onread` option: the socket being opened reads straight into this forwarder; pass it to start() at once. */
  onreadOption(): { buffer: Buffer; callback: OnRead } {
    return { buffer: this.buffer, callback: this.onRead };
  }

  /** Forwards from `src`, opened with onreadOption(): call right after net.connect, as moveTo() needs the socket. */
  start(src: net.Socket): void {
    this.src = src;
    this.endWith(src);
    src.once('close', () => this.leaveShared());
  }

  /**
   * Forwards from an accepted socket: bytes it buffered so far (read before the upstream connected,
   * or peeked by protocol detection) go first, then it reads into the buffer. False when this socket
   * cannot (socket-read-buffer.ts); then nothing was read or changed.
   */
  adopt(src: net.Socket): boolean {
    if (!readIntoBuffer(src, this.buffer, this.onRead)) {
      this.leaveShared();
      return false;
    }
    this.src = src;
    this.endWith(src);
    src.once('close', () => this.leaveShared());
    for (let chunk: Buffer | null; (chunk = src.read() as Buffer | null) !== null; ) this.dst.write(chunk);
    src.resume();
    return true;
  }

  /** For a forwarder whose source never came (the upstream connect threw). */
  discard(): void {
    this.leaveShared();
  }

  /** The shared buffer went to a forwarder with a pending write: read into `buf` from now on. */
  moveTo(buf: Buffer): void {
    this.buffer = buf;
    if (this.src !== undefined) readIntoBuffer(this.src, buf, this.onRead);
  }

  private leaveShared(): void {
    this.shared?.leave(this);
    this.shared = undefined;
  }

  private endWith(src: net.Socket): void {
    if (src.readableEnded) this.dst.end();
    else src.once('end', () => this.dst.end());
  }

  // False (stop reading) while a write is pending: the kernel's send buffer is full (or dst is gone); the writer resumes src.
  private readonly onRead = (n: number, buf: Buffer): boolean => {
    if (buf !== this.viewOf || this.view.length !== n) {
      this.viewOf = buf;
      this.view = n === buf.length ? buf : buf.subarray(0, n);
    }
    if (this.writer.write(this.view)) return true;
    // The pending write points into `buf`: nobody else may read into it now.
    if (this.shared !== undefined) {
      this.shared.giveTo(this);
      this.shared = undefined;
    }
    return false;
  };
}
