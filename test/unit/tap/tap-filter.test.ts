// The tap filter as the proxy applies it: path prefix, method, any of several
// status classes or codes; and the query schema that refuses what it cannot mean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { compileTapFilter } from '../../../src/proxy/telemetry/tap-hub.ts';
import { TapFilter } from '../../../src/shared/api.ts';
import { BoundedLineWriter } from '../../../src/shared/bounded-line-writer.ts';
import { eventually } from '../../harness/eventually.ts';

const f = (q: Record<string, string>) => compileTapFilter(TapFilter.parse(q));

test('each field narrows; together they all must hold', () => {
  assert.equal(f({})('GET', '/x', 200), true);
  assert.equal(f({ path: '/api' })('GET', '/api/v1', 200), true);
  assert.equal(f({ path: '/api' })('GET', '/ap', 200), false);
  assert.equal(f({ method: 'post' })('POST', '/', 200), true);
  assert.equal(f({ method: 'post' })('GET', '/', 200), false);
  const m = f({ path: '/buy', method: 'POST', status: '5XX,404' });
  assert.equal(m('POST', '/buy', 503), true);
  assert.equal(m('POST', '/buy', 404), true);
  assert.equal(m('POST', '/buy', 400), false);
  assert.equal(m('GET', '/buy', 503), false);
  assert.equal(m('POST', '/cart', 503), false);
  assert.equal(f({ status: '200' })('GET', '/', 201), false);
});

test('a filter that cannot mean anything is refused with its field', () => {
  for (const [q, field] of [[{ status: '5x' }, 'status'], [{ status: '600' }, 'status'], [{ path: 'api' }, 'path'], [{ method: 'GE T' }, 'method'], [{ other: '1' }, '']] as const) {
    const r = TapFilter.safeParse(q);
    assert.equal(r.success, false, JSON.stringify(q));
    if (field) assert.equal(r.error!.issues[0]!.path[0], field);
  }
});

test('a writer whose reader stops keeps at most its bound, drops the rest and reports the count when there is room', async () => {
  const out = new PassThrough({ highWaterMark: 16 });
  const w = new BoundedLineWriter(out, 1000, (n) => `dropped ${n}\n`);
  const line = 'x'.repeat(99) + '\n';
  for (let i = 0; i < 50; i++) w.push(line);
  assert.equal(w.dropped, 40, '10 lines of 100 bytes fit in 1000');
  await new Promise((r) => setImmediate(r));
  assert.equal(out.writableLength, 1000);
  for (let i = 0; i < 5; i++) w.push(line); // still full: dropped too
  assert.equal(w.dropped, 45);
  let text = '';
  out.on('data', (c) => (text += c));
  await eventually(() => assert.match(text, /dropped 45\n$/));
  assert.equal(text.split('\n').filter((l) => l.startsWith('x')).length, 10);
});
