// One direction of an opaque TCP connection between two plain TCP sockets:
// every read lands in one reused buffer and is written to `dst` at once, no
// stream machinery in between. A write the kernel did not take whole still
// holds the buffer, so reading stops until `dst` has flushed it: that is the
// backpressure, with one buffer in flight per direction (as HAProxy's bufsize).
// The source's end half-closes `dst` once its writes are out.
import type net from 'node:net';
import { readIntoBuffer, type OnRead } from './socket-read-buffer.ts';

// Per direction and connection. The 1 KB-ish messages of request/response protocols fit in one read;
// a bulk transfer takes one read per 16 KiB (libuv reads again at once while the buffer comes back full).
const READ_BUFFER_BYTES = 16 * 1024;

// Written with a callback after a pending write: the callback runs once everything before it is written.
const FLUSH_MARK = Buffer.alloc(0);

export class ByteForwarder {
  private readonly dst: net.Socket;
  private src: net.Socket | undefined;
  private readonly buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

  constructor(dst: net.Socket) {
    this.dst = dst;
  }

  /** net.connect's `onread` option: the socket being opened reads straight into this forwarder. */
  onreadOption(): { buffer: Buffer; callback: OnRead } {
    return { buffer: this.buffer, callback: this.onRead };
  }

  /** Forwards from `src`, opened with onreadOption(). */
  start(src: net.Socket): void {
    this.src = src;
    this.endWith(src);
  }

  /**
   * Forwards from an accepted socket: bytes it buffered so far (read before the upstream connected,
   * or peeked by protocol detection) go first, then it reads into the buffer. False when this socket
   * cannot (socket-read-buffer.ts); then nothing was read or changed.
   */
  adopt(src: net.Socket): boolean {
    if (!readIntoBuffer(src, this.buffer, this.onRead)) return false;
    this.src = src;
    this.endWith(src);
    for (let chunk: Buffer | null; (chunk = src.read() as Buffer | null) !== null; ) this.dst.write(chunk);
    src.resume();
    return true;
  }

  private endWith(src: net.Socket): void {
    if (src.readableEnded) this.dst.end();
    else src.once('end', () => this.dst.end());
  }

  private readonly onRead = (n: number, buf: Buffer): boolean => {
    const dst = this.dst;
    dst.write(n === buf.length ? buf : buf.subarray(0, n));
    if (dst.writableLength === 0) return true;
    // Pending: the kernel's send buffer is full (or dst is gone); read again once dst has flushed.
    dst.write(FLUSH_MARK, this.onFlushed);
    return false;
  };

  private readonly onFlushed = (err?: Error | null): void => {
    if (!err) this.src?.resume();
  };
}
