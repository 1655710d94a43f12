// Fuzzing the mesh.config.ts schema and its loader: a broken config (any
// shape, any value) gives a list of errors that each name the file and a
// field, never an exception and never a config half-applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { MeshConfig } from '../../../src/shared/mesh-config.ts';
import { describeIssues } from '../../../src/controller/config/describe-issues.ts';
import { loadMeshConfig } from '../../../src/controller/config/load-config.ts';
import { FUZZ } from './fuzz-runs.ts';
import { mutated } from './mutate.ts';

/** The shop's config (examples/shop/mesh.config.ts) with a few more slots used. */
const GOOD = {
  trustDomain: 'mesh.local',
  defaults: { protocol: 'http', timeouts: { requestMs: 5000, connectMs: 1000 } },
  services: {
    web: { ports: [8080] },
    product: { ports: [8080, { port: 9090, protocol: 'grpc' }] },
    order: { ports: [8080], timeouts: { requestMs: 8000 } },
    inventory: { ports: [8080], retries: { attempts: 2, on: ['connect-failure'], retryNonIdempotent: true } },
    payment: {
      ports: [8080],
      retries: { attempts: 3, on: ['connect-failure', 'reset', '5xx'], retryNonIdempotent: true },
      authz: { rules: [{ name: 'only-orders', from: ['order'] }] },
    },
  },
};
const COMPOSE = 'services:\n  web: {image: x}\n  product: {image: x}\n  order: {image: x}\n  inventory: {image: x}\n  payment: {image: x}\n';

test('the seed config is valid', () => {
  const r = MeshConfig.safeParse(GOOD);
  assert.ok(r.success, r.success ? '' : r.error.message);
});

test('fuzz: describeIssues turns any refusal of any value into lines with a path, never a throw', () => {
  fc.assert(
    fc.property(fc.oneof(fc.anything({ maxDepth: 4 }), mutated(GOOD)), (v) => {
      const r = MeshConfig.safeParse(v);
      if (r.success) return;
      const lines = describeIssues(MeshConfig, r.error, v);
      assert.ok(lines.length > 0);
      for (const l of lines) assert.match(l, /^\S[^\n]*: .+/, `"${l}" names a field and a reason`);
    }),
    FUZZ,
  );
});

test('fuzz: loadMeshConfig on a broken mesh.config.json beside a compose file: ok, or errors naming the file; never a throw', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-fuzz-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const compose = join(dir, 'compose.yaml');
  writeFileSync(compose, COMPOSE);
  const file = join(dir, 'mesh.config.json');
  await fc.assert(
    fc.asyncProperty(mutated(GOOD), async (v) => {
      writeFileSync(file, JSON.stringify(v) ?? 'undefined');
      const r = await loadMeshConfig({ configPath: file, composePath: compose });
      if (r.ok) {
        assert.ok(MeshConfig.safeParse(r.config).success);
        return;
      }
      assert.ok(r.errors.length > 0);
      for (const e of r.errors) assert.match(e, /^mesh\.config\.json: \S.*/, `"${e}" names the file`);
    }),
    { ...FUZZ, numRuns: Math.min(FUZZ.numRuns, 150) },
  );
});
