// The stream access logs go to when the proxy runs as a process: stdout, but
// never blocking. Node writes to pipes and files on stdout synchronously, so a
// slow log reader would stall traffic; a non-blocking handle on fd 1 cannot.
import fs from 'node:fs';
import net from 'node:net';

export function accessLogStream(): NodeJS.WritableStream {
  try {
    const st = fs.fstatSync(1);
    if (st.isFIFO() || st.isSocket()) return new net.Socket({ fd: 1, readable: false, writable: true });
    if (st.isFile()) return fs.createWriteStream('', { fd: 1, flags: 'a' });
  } catch {
    // fd 1 closed or unknown: fall through to process.stdout
  }
  return process.stdout;
}
