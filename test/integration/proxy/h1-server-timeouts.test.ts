// The idle and head timeouts of the proxy's own HTTP/1.1 server
// (listeners/h1-server-connection.ts), on a bare net.Server with short
// timeouts (the proxy's are 60 s): an idle keep-alive connection is closed
// without a word, a head that takes too long gets 408, empty lines between
// requests are idleness rather than a head begun, and a response slower than
// both timeouts is not cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { H1ServerConnection, type H1ServerOptions } from '../../../src/proxy/listeners/h1-server-connection.ts';

type T = { after(fn: () => Promise<void> | void): void };

/** A server whose connections are H1ServerConnections with 300 ms timeouts; `onRequest` answers. */
async function server(t: T, onRequest: H1ServerOptions['onRequest']) {
  const errors: string[] = [];
  const srv = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    new H1ServerConnection(socket, {
      headersTimeoutMs: 300,
      keepAliveTimeoutMs: 300,
      onRequest,
      onUpgrade: (_req, s) => s.destroy(),
      onProtocolError: (_status, code) => errors.push(code),
    });
    socket.resume(); // as listener-server.ts does after protocol detection
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  return { port: (srv.address() as AddressInfo).port, errors };
}

/** Sends `first` (and whatever `onText` writes as answers arrive), returns all bytes read until the server closes. */
function talk(port: number, first: string, onText?: (text: string, s: net.Socket) => void): Promise<string> {
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

test('an idle keep-alive connection is closed without a response', async (t) => {
  const { port, errors } = await server(t, (_req, res) => res.end('ok'));
  const text = await talk(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n2\r\nok\r\n0\r\n\r\n$/);
  assert.deepEqual(errors, []);
});

test('a head that is not complete in time gets 408, then a close', async (t) => {
  const { port, errors } = await server(t, (_req, res) => res.end('ok'));
  const text = await talk(port, 'GET / HTTP/1.1\r\nHost: a\r\n');
  assert.match(text, /^HTTP\/1\.1 408 /);
  assert.deepEqual(errors, ['ERR_HTTP_REQUEST_TIMEOUT']);
});

test('an empty line between requests is idleness, not a head begun: closed without a 408', async (t) => {
  const { port, errors } = await server(t, (_req, res) => res.end('ok'));
  let sent = false;
  const text = await talk(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', (got, s) => {
    if (sent || !got.endsWith('0\r\n\r\n')) return;
    sent = true;
    s.write('\r\n');
  });
  assert.doesNotMatch(text, /408/);
  assert.deepEqual(errors, []);
});

test('a response slower than both timeouts is not cut', async (t) => {
  const { port } = await server(t, (req, res) => {
    req.resume();
    setTimeout(() => res.end('late'), 900);
  });
  const text = await talk(port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi');
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n4\r\nlate\r\n0\r\n\r\n$/);
});
