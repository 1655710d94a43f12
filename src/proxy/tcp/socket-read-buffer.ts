// Makes an accepted socket read into one reused buffer, as net.connect's
// `onread` option does for a socket we open. Node has no public way to ask
// this of a socket a server accepted, so this sets the two fields the Socket
// constructor sets from `onread` with a fixed buffer (found by their symbol
// names) and calls the handle's `useUserBuffer`, which is all `onread` does.
// Without it each read allocates a buffer and goes through the Readable
// machinery ('data' event, nextTick, ...): about 40 % of the user CPU of an
// opaque TCP hop.
// When this Node lacks any of those pieces, the caller falls back to pipe();
// test/unit/proxy/socket-read-buffer.test.ts fails when that happens.
import net from 'node:net';

/** Called with the bytes read (`buf[0..n)`); false stops reading until `socket.resume()`. */
export type OnRead = (n: number, buf: Buffer) => boolean;

interface OnreadSymbols {
  buffer: symbol;
  callback: symbol;
}

interface UserBufferHandle {
  useUserBuffer(buf: Uint8Array): void;
}

const symbols = onreadSymbols();

function onreadSymbols(): OnreadSymbols | undefined {
  const probe = new net.Socket();
  const named = new Map(Object.getOwnPropertySymbols(probe).map((s) => [s.description, s]));
  const buffer = named.get('kBuffer');
  const callback = named.get('kBufferCb');
  // kBufferGen must exist and be null, or onStreamRead would call it after every read.
  const gen = named.get('kBufferGen');
  const p = probe as unknown as Record<symbol, unknown>;
  if (!buffer || !callback || !gen || p[buffer] !== null || p[callback] !== null || p[gen] !== null) return undefined;
  return { buffer, callback };
}

/** True when readIntoBuffer() works on this socket: a plain TCP socket (not TLS) on a Node that has the pieces. */
export function canReadIntoBuffer(socket: net.Socket): boolean {
  return symbols !== undefined && Object.getPrototypeOf(socket) === net.Socket.prototype && typeof handleOf(socket)?.useUserBuffer === 'function';
}

/**
 * From now on reads on `socket` land in `buf` and go to `onRead` instead of
 * 'data' events ('end', 'error', 'close', pause() and resume() behave as
 * before). Bytes already buffered stay in the Readable: read them first.
 * False (nothing changed) when canReadIntoBuffer() is false.
 */
export function readIntoBuffer(socket: net.Socket, buf: Buffer, onRead: OnRead): boolean {
  if (!canReadIntoBuffer(socket)) return false;
  const s = socket as unknown as Record<symbol, unknown>;
  s[symbols!.buffer] = buf;
  s[symbols!.callback] = onRead;
  handleOf(socket)!.useUserBuffer!(buf);
  return true;
}

// A TLSSocket's handle is the TLS stream, not the TCP one; canReadIntoBuffer() rules those out.
function handleOf(socket: net.Socket): Partial<UserBufferHandle> | null | undefined {
  return (socket as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle;
}
