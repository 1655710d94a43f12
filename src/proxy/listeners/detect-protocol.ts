// Peeks at a connection's first bytes to tell HTTP/1, the HTTP/2 preface and
// anything else apart, then puts the bytes back for whoever handles it.
import type { Socket } from 'node:net';

export type Detected = 'http1' | 'http2' | 'tcp';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const MAX_METHOD = 24;

/** 'more' when the bytes so far could still be either. */
export function classify(buf: Buffer): Detected | 'more' {
  const n = Math.min(buf.length, PREFACE.length);
  if (buf.compare(PREFACE, 0, n, 0, n) === 0) return n === PREFACE.length ? 'http2' : 'more';
  // An HTTP/1 request line starts with a method token (tchar) and a space.
  for (let i = 0; i < buf.length && i <= MAX_METHOD; i++) {
    const c = buf[i]!;
    if (c === 0x20) return i > 0 ? 'http1' : 'tcp';
    const tchar = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x21 || c === 0x2e;
    if (!tchar) return 'tcp';
  }
  return buf.length > MAX_METHOD ? 'tcp' : 'more';
}

/**
 * Waits for enough bytes to decide, at most `timeoutMs` (0 = no limit); no
 * bytes in time means a server-speaks-first protocol, so opaque TCP. `fallback`
 * is what undecidable input becomes.
 */
export function detectProtocol(socket: Socket, timeoutMs: number, cb: (d: Detected) => void): void {
  let buf: Buffer | undefined;
  let timer: NodeJS.Timeout | undefined;
  const finish = (d: Detected): void => {
    if (timer) clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('close', onClose);
    socket.removeListener('end', onEnd);
    socket.pause();
    if (buf) socket.unshift(buf);
    cb(d);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf ? Buffer.concat([buf, chunk]) : chunk;
    const d = classify(buf);
    if (d !== 'more') finish(d);
  };
  const onClose = (): void => {
    if (timer) clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
  };
  // The client half-closed before its bytes said what they are. With nothing sent, an opaque TCP
  // destination (when there is one) gets the half-close; a partial HTTP head can never be answered.
  const onEnd = (): void => {
    if (!buf && timeoutMs > 0) finish('tcp');
    else {
      onClose();
      socket.destroy();
    }
  };
  socket.on('data', onData);
  socket.once('close', onClose);
  socket.once('end', onEnd);
  if (timeoutMs > 0) timer = setTimeout(() => finish(buf ? 'http1' : 'tcp'), timeoutMs);
}
