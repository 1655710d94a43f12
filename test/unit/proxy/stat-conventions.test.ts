// Every stat table in the proxy follows Prometheus' naming conventions, so a
// new metric cannot slip in with `_ms`, a counter without `_total` or a
// camelCase label. Tables are found by reading src/proxy for `StatSpec>` and
// importing those modules (a table added anywhere is checked without a list).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { METRIC_PREFIX } from '../../../src/proxy/telemetry/proxy-stats.ts';
import type { StatSpec } from '../../../src/proxy/telemetry/metrics-registry.ts';

const ROOT = join(import.meta.dirname, '../../..');
const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
// Prometheus adds job and instance; le and quantile belong to histograms and summaries.
const RESERVED = new Set(['le', 'quantile', 'job', 'instance']);

async function statTables(): Promise<Map<string, StatSpec>> {
  const out = new Map<string, StatSpec>();
  const files = globSync('src/proxy/**/*.ts', { cwd: ROOT }).filter((f) => /satisfies Record<string, StatSpec>/.test(readFileSync(join(ROOT, f), 'utf8')));
  assert.ok(files.length >= 3, files.join(', '));
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(ROOT, f)).href)) as Record<string, unknown>;
    for (const [exp, table] of Object.entries(mod)) {
      if (!/_STATS$/.test(exp) || !table || typeof table !== 'object') continue;
      for (const [key, spec] of Object.entries(table as Record<string, StatSpec>)) out.set(`${METRIC_PREFIX}_${key}`, spec);
    }
  }
  return out;
}

test('proxy metric names, types, units and labels follow Prometheus conventions', async () => {
  const tables = await statTables();
  for (const name of ['mesh_requests_total', 'mesh_request_duration_seconds', 'mesh_tcp_bytes_total', 'mesh_retries_total']) assert.ok(tables.has(name), name);
  for (const [name, spec] of tables) {
    assert.match(name, SNAKE, `${name}: snake_case`);
    assert.ok(spec.help.trim().length > 0, `${name}: HELP text`);
    assert.equal(name.endsWith('_total'), spec.type === 'counter', `${name}: a ${spec.type} ${spec.type === 'counter' ? 'must' : 'must not'} end in _total`);
    // Base units only: seconds and bytes, never milliseconds or kilobytes.
    assert.doesNotMatch(name, /_(ms|millis|milliseconds|us|microseconds|kb|kilobytes|mb|minutes|hours)(_|$)/, `${name}: base units`);
    if (spec.type === 'histogram') {
      assert.match(name, /_(seconds|bytes)$/, `${name}: a histogram names its unit`);
      const b = spec.buckets ?? [];
      assert.ok(b.length > 0 && b.every((v, i) => i === 0 || v > b[i - 1]!), `${name}: ascending buckets`);
    }
    assert.equal(new Set(spec.labels).size, spec.labels.length, `${name}: duplicate label`);
    for (const l of spec.labels) {
      assert.match(l, SNAKE, `${name}: label ${l} snake_case`);
      assert.ok(!RESERVED.has(l) && !l.startsWith('__'), `${name}: label ${l} is reserved`);
    }
  }
});
