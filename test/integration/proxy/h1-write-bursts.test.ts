// The HTTP/1 server holds back responses that end while the event loop is
// busy and sends them together (tcp/socket-handle-write.ts, writeSoon). Here
// the loop is made busy the simplest way: pipelined requests in one packet,
// each answered in the same turn, so from the third response on every one is
// held. Whatever else then goes to the socket (a 100 Continue, a 101, a 400,
// the FIN of a `connection: close`, a drain's close) must come after them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bareH1Server, talk } from '../../harness/bare-h1-server.ts';
import { h1ConnectionOf } from '../../../src/proxy/listeners/h1-server-connection.ts';

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;
/** The bodies of the responses in `text`, in order (each answer is `r<path>`). */
const answers = (text: string) => [...text.matchAll(/\r\n\r\n(?:[0-9a-f]+\r\n)?(r\/\d+)/g)].map((m) => m[1]);
const FOUR = [1, 2, 3, 4].map((i) => get(`/${i}`)).join('');

test('pipelined requests answered in one turn: every response arrives, in order, before the close the last one asks for', async (t) => {
  const { port } = await bareH1Server(t, (req, res) => res.end(`r${req.url}`));
  const text = await talk(port, FOUR + get('/5') + get('/6', 'Connection: close\r\n'));
  assert.deepEqual(answers(text), ['r/1', 'r/2', 'r/3', 'r/4', 'r/5', 'r/6']);
  assert.match(text, /connection: close\r\n\r\n3\r\nr\/6\r\n0\r\n\r\n$/);
});

test('a 100 Continue comes after the responses held before it', async (t) => {
  const { port } = await bareH1Server(t, (req, res) => {
    req.resume();
    req.on('end', () => res.end(`r${req.url}`));
  });
  let sent = false;
  const text = await talk(port, `${FOUR}POST /5 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n`, (got, s) => {
    if (sent || !got.includes('100 Continue')) return;
    sent = true;
    s.write('hi');
  });
  assert.deepEqual(answers(text), ['r/1', 'r/2', 'r/3', 'r/4', 'r/5']);
  assert.ok(text.indexOf('r/4') < text.indexOf('HTTP/1.1 100 Continue'), text);
});

test('an Upgrade after held responses: the handler writes its 101 after them', async (t) => {
  const { port } = await bareH1Server(t, (req, res) => res.end(`r${req.url}`), {
    onUpgrade: (_req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n'),
  });
  const text = await talk(port, `${FOUR}GET /5 HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n`);
  assert.deepEqual(answers(text), ['r/1', 'r/2', 'r/3', 'r/4']);
  assert.match(text, /r\/4\r\n(0\r\n\r\n)?HTTP\/1\.1 101 Switching Protocols\r\n/);
});

test('a malformed request after held responses: its 400 comes after them', async (t) => {
  const { port, errors } = await bareH1Server(t, (req, res) => res.end(`r${req.url}`));
  const text = await talk(port, `${FOUR}NOT A REQUEST\r\n\r\n`);
  assert.deepEqual(answers(text), ['r/1', 'r/2', 'r/3', 'r/4']);
  assert.match(text, /r\/4\r\n0\r\n\r\nHTTP\/1\.1 400 Bad Request\r\n/);
  assert.equal(errors.length, 1);
});

test('a connection closed as idle (a drain) right after held responses sends them first', async (t) => {
  const { port } = await bareH1Server(t, (req, res) => {
    res.end(`r${req.url}`);
    // What listener-server.ts does to every HTTP/1 connection when the proxy drains.
    if (req.url === '/4') h1ConnectionOf(req.socket)!.closeWhenIdle();
  });
  const text = await talk(port, FOUR);
  assert.deepEqual(answers(text), ['r/1', 'r/2', 'r/3', 'r/4']);
});

test('a large response after held ones (written without copying, through the socket) comes after them', async (t) => {
  const big = 'b'.repeat(8000);
  const { port } = await bareH1Server(t, (req, res) => res.end(req.url === '/5' ? big : `r${req.url}`));
  const text = await talk(port, FOUR + get('/5', 'Connection: close\r\n'));
  assert.deepEqual(answers(text), ['r/1', 'r/2', 'r/3', 'r/4']);
  assert.match(text, new RegExp(`r/4\\r\\n0\\r\\n\\r\\nHTTP/1\\.1 200 OK\\r\\n[^]*\\r\\n\\r\\n1f40\\r\\n${big}\\r\\n0\\r\\n\\r\\n$`));
});

test('a request body that turns out malformed after held responses: they arrive, then the connection is cut', async (t) => {
  const { port, errors } = await bareH1Server(t, (req, res) => {
    if (req.method === 'POST') {
      req.on('error', () => {});
      req.resume();
      return;
    }
    res.end(`r${req.url}`);
  });
  const text = await talk(port, `${FOUR}POST /5 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n`);
  assert.deepEqual(answers(text), ['r/1', 'r/2', 'r/3', 'r/4']);
  assert.equal(errors.length, 1);
});
