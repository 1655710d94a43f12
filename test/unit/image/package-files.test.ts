import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { packageFiles, productionDependencies } from '../../../src/cli/image/package-files.ts';
import { contentHash } from '../../../src/cli/image/content-hash.ts';
import { PACKAGE_ROOT } from '../../../src/cli/image/mesh-version.ts';

test('production dependencies: the dependency tree of package.json, no devDependencies or @types', () => {
  const deps = productionDependencies(PACKAGE_ROOT).map((d) => d.slice(join(PACKAGE_ROOT, 'node_modules').length + 1));
  for (const name of ['commander', 'yaml', 'zod', 'dockerode', 'undici', 'ink', 'react']) assert.ok(deps.includes(name), name);
  // Transitive: dockerode needs docker-modem.
  assert.ok(deps.some((d) => d.endsWith('docker-modem')));
  for (const dev of ['typescript', 'fast-check', 'http-proxy', 'ws']) assert.ok(!deps.includes(dev), dev);
  assert.ok(!deps.some((d) => d.startsWith('@types/')));
});

test('package files: package.json, src/ and production modules only, without docs or maps', () => {
  const files = packageFiles(PACKAGE_ROOT).map((f) => f.rel);
  assert.ok(files.includes('package.json'));
  assert.ok(files.includes('src/cli/main.ts'));
  assert.ok(files.includes('node_modules/commander/package.json'));
  assert.ok(!files.some((f) => /^(test|bench|examples|scripts)\//.test(f)));
  assert.ok(!files.some((f) => /\.(md|map|d\.ts)$/i.test(f)));
});

test('the content hash follows the content', () => {
  const files = packageFiles(PACKAGE_ROOT).slice(0, 20);
  assert.equal(contentHash(files), contentHash(files));
  assert.notEqual(contentHash(files), contentHash(files.slice(1)));
  assert.notEqual(contentHash(files, 'v24.0.0'), contentHash(files, 'v24.0.1'));
});
