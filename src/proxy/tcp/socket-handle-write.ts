// Writes a buffer (or a latin1 string: HTTP/1 heads) straight to a plain TCP
// socket's libuv handle, the call a socket's own write() ends in, without the
// Writable machinery above it (per write: a new WriteWrap, the write queue
// state, a nextTick for the write's callback, which makes every read callback
// run the tick queue on the way out).
// The handle first tries the write at once (uv_try_write); only what the
// kernel did not take is queued in libuv and completes later. The WriteWrap
// is reused while writes complete at once, as nothing holds it then.
// Node has no public API for this: the WriteWrap class and the flag saying a
// write went async come from process.binding('stream_wrap'), the handle is
// `socket._handle`. Writes left pending in libuv stay in order with any later
// socket.write(): libuv queues a stream's writes, and tries none at once while
// one is queued. When any piece is missing, write() goes through
// socket.write() (test/unit/proxy/socket-handle-write.test.ts fails then).
//
// writeSoon() (whole HTTP/1 messages) holds a write back while the event loop
// is busy, and sends the held ones together: a write wakes the process on the
// other end when it sleeps, and writes spread over a turn's read callbacks each
// came after that process had handled the last one and gone back to sleep. In
// a burst it is still awake for all but the first. HAProxy sends after its
// whole poll batch, and Envoy at the end of its dispatch round, for the same
// reason. Measured on a plaintext hop at max load (bench/profile-proxy.ts): ~1
// µs less CPU per request (kernel time), 97 % of writes held, 7 per burst.
// - The first AT_ONCE writes since the loop last waited for I/O go at once: at
//   light load nothing is held (99 % at 1k req/s), so no latency is added.
// - A burst leaves at the end of the turn (setImmediate), or as soon as
//   BATCH_CAP writers hold one: holding a whole turn (~50 writes) kept peers
//   idle meanwhile and cost 5 % throughput; 16 lost none.
// Anything else that writes to, ends, hands over or destroys the socket must
// flush() first; a socket ended or destroyed meanwhile drops what was held.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { getSystemErrorName } from 'node:util';

interface WriteReq {
  handle: unknown;
  oncomplete: (status: number) => void;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

interface TcpHandle {
  writeBuffer(req: WriteReq, buf: Uint8Array): number;
  writeLatin1String(req: WriteReq, s: string): number;
}

const binding = streamWrapBinding();

function streamWrapBinding(): StreamWrapBinding | undefined {
  try {
    const b = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
    if (typeof b.WriteWrap !== 'function' || !(b.streamBaseState instanceof Int32Array) || typeof b.kLastWriteWasAsync !== 'number') return undefined;
    return b as StreamWrapBinding;
  } catch {
    return undefined;
  }
}

/** True when SocketWriter writes to this socket's handle: a plain TCP socket (not TLS) on a Node that has the pieces. */
export function canWriteToHandle(socket: net.Socket): boolean {
  return binding !== undefined && Object.getPrototypeOf(socket) === net.Socket.prototype;
}

/** What Node's own failed write destroys the socket with. */
function writeError(status: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(status);
  return Object.assign(new Error(`write ${code}`), { errno: status, code, syscall: 'write' });
}

/**
 * Writes to one socket. A write the kernel did not take whole is pending (in
 * libuv); `onFlushed` comes when no write of this writer is pending any more.
 */
export class SocketWriter {
  private readonly socket: net.Socket;
  private readonly onFlushed: () => void;
  private readonly direct: boolean;
  // Free for the next write: the last one completed at once.
  private req: WriteReq | undefined;
  /** Writes of this writer not yet out. */
  private pendingWrites = 0;
  /** What writeSoon() holds until its burst leaves. */
  private soon: (Buffer | string)[] | undefined;
  private readonly onWritableFlushed = (err?: Error | null): void => {
    if (!err) this.flushed();
  };

  /** `onFlushed`: the writes that write() reported pending are out (not called when the socket failed). */
  constructor(socket: net.Socket, onFlushed: () => void) {
    this.socket = socket;
    this.onFlushed = onFlushed;
    this.direct = canWriteToHandle(socket);
  }

  /** A write of this writer is still pending: wait for `onFlushed` before writing more. */
  get pending(): boolean {
    return this.pendingWrites !== 0;
  }

  /**
   * Writes `data` (a string as latin1). True when it went out whole; false when it is pending (a
   * buffer's memory must stay as it is until `onFlushed`) or the socket failed.
   */
  write(data: Buffer | string): boolean {
    if (this.soon !== undefined) this.flush();
    return this.writeNow(data);
  }

  /**
   * Writes a whole message, `data`, now or with the burst it is part of (see above): after what this
   * writer already holds, and before anything write() writes later. `data` must not change until
   * then (a string, or a buffer of the caller's own). No backpressure: a part the kernel does not
   * take makes the writer `pending`.
   */
  writeSoon(data: Buffer | string): void {
    if (!this.direct) {
      this.write(data);
      return;
    }
    if (this.soon !== undefined) {
      this.soon.push(data);
      return;
    }
    const idle = performance.nodeTiming.idleTime;
    if (idle !== lastIdle) {
      lastIdle = idle;
      sinceIdle = 0;
    }
    if (++sinceIdle <= AT_ONCE) {
      this.writeNow(data);
      return;
    }
    this.soon = [data];
    hold(this);
  }

  /** Writes what writeSoon() holds, now: before the socket is written to, ended or handed over by other means. */
  flush(): void {
    const soon = this.soon;
    if (soon === undefined) return;
    this.soon = undefined;
    const s = this.socket;
    if (s.destroyed || s.writableEnded) return;
    for (const data of soon) this.writeNow(data);
  }

  private writeNow(data: Buffer | string): boolean {
    const s = this.socket;
    const handle = (s as unknown as { _handle?: TcpHandle | null })._handle;
    // Straight to the handle only when nothing is queued above it (ordering) and the socket is open for writing.
    if (!this.direct || !handle || s.writableLength !== 0 || s.writableCorked !== 0 || s.connecting || s.writableEnded || s.destroyed) return this.viaWritable(data);
    const req = this.req?.handle === handle ? this.req : this.newReq(handle);
    const err = typeof data === 'string' ? handle.writeLatin1String(req, data) : handle.writeBuffer(req, data);
    if (err !== 0) {
      s.destroy(writeError(err));
      return false;
    }
    // Sockets with an idle timeout count a write as activity (as socket.write() does).
    if (s.timeout) (s as unknown as { _unrefTimer(): void })._unrefTimer();
    if (binding!.streamBaseState[binding!.kLastWriteWasAsync] === 0) {
      this.req = req;
      return true;
    }
    // libuv holds `req` until the rest is written, and `req` holds the memory it reads (as Node's own
    // writes do); the next write takes a new one.
    if (typeof data !== 'string') (req as WriteReq & { buffer?: Buffer }).buffer = data;
    this.req = undefined;
    this.pendingWrites++;
    return false;
  }

  private newReq(handle: TcpHandle): WriteReq {
    const req = new binding!.WriteWrap();
    req.handle = handle;
    const s = this.socket;
    req.oncomplete = (status: number): void => {
      if (s.destroyed) return;
      if (status < 0) s.destroy(writeError(status));
      else this.flushed();
    };
    return req;
  }

  private flushed(): void {
    if (--this.pendingWrites === 0) this.onFlushed();
  }

  private viaWritable(data: Buffer | string): boolean {
    const s = this.socket;
    if (typeof data === 'string') s.write(data, 'latin1');
    else s.write(data);
    if (s.writableLength === 0 || s.destroyed) return !s.destroyed;
    // Pending: written with a callback, which runs once everything before it is written.
    this.pendingWrites++;
    s.write(FLUSH_MARK, this.onWritableFlushed);
    return false;
  }
}

const FLUSH_MARK = Buffer.alloc(0);

const AT_ONCE = 2;
const BATCH_CAP = 16;
/** The event loop's idle time (ms spent waiting for I/O) at the last writeSoon(), and writeSoon() calls since it changed. */
let lastIdle = -1;
let sinceIdle = 0;

/** The writers holding writes, in the order they began to; flushed at the end of the turn or at BATCH_CAP. */
let held: SocketWriter[] = [];
let flushScheduled = false;

function hold(w: SocketWriter): void {
  held.push(w);
  if (held.length >= BATCH_CAP) flushHeld();
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(endOfTurn);
  }
}

function endOfTurn(): void {
  flushScheduled = false;
  flushHeld();
}

function flushHeld(): void {
  const writers = held;
  held = [];
  for (const w of writers) w.flush();
}
