import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildContextPorts, exposedPorts } from '../../../src/cli/compose/dockerfile-ports.ts';

const multi = `# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM node:24 AS base
EXPOSE 3000
FROM base AS dev
EXPOSE 9229/tcp \\
  9230
FROM nginx AS prod
expose 80 443/TCP 53/udp $PORT 7000-7002
`;

test('EXPOSE of the last stage, or of build.target and the stages it builds on', () => {
  assert.deepEqual(exposedPorts(multi), ['80/tcp', '443/tcp', '53/udp', '7000-7002/tcp']);
  assert.deepEqual(exposedPorts(multi, 'dev'), ['3000/tcp', '9229/tcp', '9230/tcp']);
  assert.deepEqual(exposedPorts(multi, 'base'), ['3000/tcp']);
  assert.deepEqual(exposedPorts(multi, 'nope'), []);
  assert.deepEqual(exposedPorts('FROM scratch\n'), []);
});

test('a build context on disk: Dockerfile, a named dockerfile, dockerfile_inline; images and URLs give nothing', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-df-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'Dockerfile'), 'FROM x\nEXPOSE 8080\n');
  writeFileSync(join(dir, 'Dockerfile.dev'), 'FROM x\nEXPOSE 5000\n');
  assert.deepEqual(buildContextPorts({ build: { context: dir } }), ['8080/tcp']);
  assert.deepEqual(buildContextPorts({ build: dir }), ['8080/tcp']);
  assert.deepEqual(buildContextPorts({ build: { context: dir, dockerfile: 'Dockerfile.dev' } }), ['5000/tcp']);
  assert.deepEqual(buildContextPorts({ build: { context: dir, dockerfile_inline: 'FROM y\nEXPOSE 1234' } }), ['1234/tcp']);
  assert.deepEqual(buildContextPorts({ image: 'nginx' }), []);
  assert.deepEqual(buildContextPorts({ build: { context: 'https://github.com/x/y.git' } }), []);
  assert.deepEqual(buildContextPorts({ build: { context: join(dir, 'missing') } }), []);
});
