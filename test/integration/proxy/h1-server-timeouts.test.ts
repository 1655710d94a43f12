// The idle and head timeouts of the proxy's own HTTP/1.1 server
// (listeners/h1-server-connection.ts), on a bare net.Server with short
// timeouts (the proxy's are 60 s): an idle keep-alive connection is closed
// without a word, a head that takes too long gets 408, empty lines between
// requests are idleness rather than a head begun, and a response slower than
// both timeouts is not cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bareH1Server as server, talk } from '../../harness/bare-h1-server.ts';

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
