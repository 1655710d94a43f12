// `meshctl demo` runs end to end on loopback and shows responses, the split,
// an access-log line, metrics and where to curl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { runDemo } from '../../../src/cli/demo/run-demo.ts';

test('meshctl demo prints responses through the proxy, a metrics sample and curl lines', async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c));
  await runDemo({ out });
  assert.match(text, /GET http:\/\/payments\/balance {2}→ {2}200/);
  assert.match(text, /→ {2}404 {2}x-mesh-error: no-route /);
  assert.match(text, /100 × GET http:\/\/payments\/split {2}→ {2}\d+ to v1, \d+ to v2/);
  assert.match(text, /"kind":"http"/);
  // The route's requests, split by the version that served them: 103 in all.
  const served = [...text.matchAll(/mesh_requests_total\{[^}]*route="payments"[^}]*\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  assert.equal(served, 103);
  assert.match(text, /curl http:\/\/127\.0\.0\.1:\d+\/metrics/);
});
