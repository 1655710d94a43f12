// Writes a buffer straight to a plain TCP socket's libuv handle, the call a
// socket's own write() ends in, without the Writable machinery above it (per
// write: a new WriteWrap, the write queue state, a nextTick for the write's
// callback, which makes every read callback run the tick queue on the way out).
// The handle first tries the write at once (uv_try_write); only what the
// kernel did not take is queued in libuv and completes later. The WriteWrap
// is reused while writes complete at once, as nothing holds it then.
// Node has no public API for this: the WriteWrap class and the flag saying a
// write went async come from process.binding('stream_wrap'), the handle is
// `socket._handle`. When any piece is missing, write() goes through
// socket.write() (test/unit/proxy/socket-handle-write.test.ts fails then).
import net from 'node:net';
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

/** Writes to one socket, one write in flight at most (the caller waits for `onFlushed` after a pending write). */
export class SocketWriter {
  private readonly socket: net.Socket;
  private readonly onFlushed: () => void;
  private readonly direct: boolean;
  // Free for the next write: the last one completed at once.
  private req: WriteReq | undefined;
  private readonly onWritableFlushed = (err?: Error | null): void => {
    if (!err) this.onFlushed();
  };

  /** `onFlushed`: a write that write() reported pending is out (not called when the socket failed). */
  constructor(socket: net.Socket, onFlushed: () => void) {
    this.socket = socket;
    this.onFlushed = onFlushed;
    this.direct = canWriteToHandle(socket);
  }

  /** True when `buf` went out whole; false when it is pending (its memory must stay as it is until `onFlushed`) or the socket failed. */
  write(buf: Buffer): boolean {
    const s = this.socket;
    const handle = (s as unknown as { _handle?: TcpHandle | null })._handle;
    // Straight to the handle only when nothing is queued above it (ordering) and the socket is open for writing.
    if (!this.direct || !handle || s.writableLength !== 0 || s.connecting || s.writableEnded || s.destroyed) return this.viaWritable(buf);
    const req = this.req?.handle === handle ? this.req : this.newReq(handle);
    const err = handle.writeBuffer(req, buf);
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
    // libuv holds `req` until the rest is written; the next write takes a new one.
    this.req = undefined;
    return false;
  }

  private newReq(handle: TcpHandle): WriteReq {
    const req = new binding!.WriteWrap();
    req.handle = handle;
    const s = this.socket;
    req.oncomplete = (status: number): void => {
      if (s.destroyed) return;
      if (status < 0) s.destroy(writeError(status));
      else this.onFlushed();
    };
    return req;
  }

  private viaWritable(buf: Buffer): boolean {
    const s = this.socket;
    s.write(buf);
    if (s.writableLength === 0) return true;
    // Pending: written with a callback, which runs once everything before it is written.
    s.write(FLUSH_MARK, this.onWritableFlushed);
    return false;
  }
}

const FLUSH_MARK = Buffer.alloc(0);
