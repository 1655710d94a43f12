// Malformed and hostile HTTP/1.1 at a real proxy over a real socket: request
// smuggling attempts, oversized heads, invalid methods. Each is refused with a
// clean status and a close, reaches no upstream, is logged, and a normal
// request sent meanwhile still succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../harness/eventually.ts';
import { normalRequestWorks, raw, recordingMesh, statusOf } from './hostile-harness.ts';

const cases: { name: string; bytes: string; status: number; code: RegExp }[] = [
  {
    name: 'CL+TE smuggling (Content-Length and Transfer-Encoding: chunked)',
    bytes: 'POST /a HTTP/1.1\r\nHost: app\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: app\r\n\r\n',
    status: 400,
    code: /HPE_/,
  },
  {
    name: 'two different Content-Length headers',
    bytes: 'POST /a HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhelloGET /smuggled HTTP/1.1\r\nHost: app\r\n\r\n',
    status: 400,
    code: /HPE_/,
  },
  {
    name: 'obs-fold (a header continued on the next line)',
    bytes: 'GET /a HTTP/1.1\r\nHost: app\r\nX-Folded: one\r\n two\r\nTransfer-Encoding:\r\n chunked\r\n\r\n',
    status: 400,
    code: /HPE_/,
  },
  {
    name: 'bare LF line endings',
    bytes: 'GET /a HTTP/1.1\nHost: app\nX-A: b\n\nGET /smuggled HTTP/1.1\nHost: app\n\n',
    status: 400,
    code: /HPE_/,
  },
  {
    name: 'invalid method token',
    bytes: 'G@T /a HTTP/1.1\r\nHost: app\r\n\r\n',
    status: 400,
    code: /HPE_/,
  },
  {
    name: 'headers over 16 KiB',
    bytes: `GET /a HTTP/1.1\r\nHost: app\r\n${Array.from({ length: 40 }, (_, i) => `X-Big-${i}: ${'a'.repeat(500)}\r\n`).join('')}\r\n`,
    status: 431,
    code: /HPE_HEADER_OVERFLOW/,
  },
  {
    name: 'a URL over 16 KiB',
    bytes: `GET /${'u'.repeat(20_000)} HTTP/1.1\r\nHost: app\r\n\r\n`,
    status: 431,
    code: /HPE_HEADER_OVERFLOW/,
  },
];

for (const c of cases) {
  test(`HTTP/1.1 ${c.name}: ${c.status} and close, nothing reaches the upstream, logged, other requests unharmed`, async (t) => {
    const m = await recordingMesh(t);
    const [answer] = await Promise.all([raw(m.port, c.bytes), normalRequestWorks(m.port)]);
    assert.equal(statusOf(answer.text), c.status, answer.text.slice(0, 200));
    assert.match(answer.text, /x-mesh-error: downstream-protocol-error/);
    assert.ok(answer.closed, 'the proxy closed the connection');
    assert.deepEqual(
      m.seen.filter((s) => s.url !== '/normal'),
      [],
      'no part of the malformed request reached the upstream',
    );
    await eventually(() => {
      const line = m.proxy.logs().find((l) => String(l.error ?? '').startsWith('downstream-protocol-error'));
      assert.ok(line, 'the refusal is in the access log');
      assert.match(String(line.error), c.code);
    });
    await normalRequestWorks(m.port);
  });
}

test('HTTP/1.1 a space before the colon of a header name is refused, not forwarded as another header', async (t) => {
  const m = await recordingMesh(t);
  const answer = await raw(m.port, 'GET /a HTTP/1.1\r\nHost: app\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n');
  assert.equal(statusOf(answer.text), 400, answer.text.slice(0, 200));
  assert.deepEqual(m.seen, []);
  await normalRequestWorks(m.port);
});
