// The proxy's own HTTP/1.1 server (listeners/h1-server-connection.ts) on a
// bare net.Server, without the rest of the proxy: `onRequest` answers, in the
// same turn if it likes, and `talk` is a client that sends raw bytes.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { H1ServerConnection, type H1ServerOptions } from '../../src/proxy/listeners/h1-server-connection.ts';

type T = { after(fn: () => Promise<void> | void): void };

/** A server whose connections are H1ServerConnections (timeouts 300 ms unless given); refusals are listed in `errors`. */
export async function bareH1Server(t: T, onRequest: H1ServerOptions['onRequest'], opts: Partial<H1ServerOptions> = {}) {
  const errors: string[] = [];
  const srv = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    new H1ServerConnection(socket, {
      headersTimeoutMs: 300,
      keepAliveTimeoutMs: 300,
      onRequest,
      onUpgrade: (_req, s) => s.destroy(),
      onProtocolError: (_status, code) => errors.push(code),
      ...opts,
    });
    socket.resume(); // as listener-server.ts does after protocol detection
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  return { port: (srv.address() as AddressInfo).port, errors };
}

/** Sends `first` (and whatever `onText` writes as answers arrive), returns all bytes read until the server closes. */
export function talk(port: number, first: string, onText?: (text: string, s: net.Socket) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`not closed by the server within 10 s: ${JSON.stringify(text)}`));
    }, 10_000);
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      onText?.(text, s);
    });
    s.on('error', reject);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    s.write(first);
  });
}
