// Reads a request body into memory up to a bound so a retry can send it again.
// Over the bound, the bytes read so far and the rest stream on unbuffered
// (ex.body) and `done(false)` says the request cannot be resent.
import { PassThrough } from 'node:stream';
import type { Exchange } from './exchange.ts';

export function bufferRequestBody(ex: Exchange, max: number, done: (whole: boolean) => void): void {
  const req = ex.req;
  const cl = req.headers['content-length'];
  if (cl !== undefined && Number(cl) > max) {
    done(false);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (c: Buffer): void => {
    chunks.push(c);
    size += c.length;
    if (size <= max) return;
    cleanup();
    // Same tick: no chunk is lost between our listener and pipe()'s.
    const pt = new PassThrough();
    for (const b of chunks) pt.write(b);
    req.pipe(pt);
    ex.body = pt;
    done(false);
  };
  const onEnd = (): void => {
    cleanup();
    ex.body = Buffer.concat(chunks, size);
    done(true);
  };
  const cleanup = (): void => {
    req.removeListener('data', onData);
    req.removeListener('end', onEnd);
  };
  req.on('data', onData);
  req.on('end', onEnd);
}
