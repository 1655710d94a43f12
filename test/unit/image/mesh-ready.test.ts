// mesh-ready, the static healthcheck binary shipped in the image: exit 0 only
// on a 200 from 127.0.0.1:<port><path>, and it keeps asking (every 50 ms, up to
// ~2.5 s) while the endpoint is not ready, so a probe that starts early turns
// healthy as soon as the proxy is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { meshReadyBinaries } from '../../../src/cli/image/ready-probe/mesh-ready-bin.ts';
import { nodeArch } from '../../../src/cli/image/stage-files.ts';

const bin = meshReadyBinaries[process.arch];
const skip = !bin && `no mesh-ready for ${process.arch}`;

function probe(file: string, args: string[]): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => spawn(file, args, { stdio: 'ignore' }).on('close', (code) => resolve({ code, ms: Date.now() - t0 })));
}

test('mesh-ready: 200 on the path is healthy; another status, another path or a closed port is not', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-ready-'));
  const file = join(dir, 'mesh-ready');
  writeFileSync(file, Buffer.from(bin!, 'base64'), { mode: 0o755 });
  let ready = false;
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url!);
    res.writeHead(req.url === '/ready' && ready ? 200 : 503).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const port = String((server.address() as { port: number }).port);

  // Not ready for ~300 ms: the probe keeps asking and exits 0 once it is.
  setTimeout(() => (ready = true), 300);
  const early = await probe(file, [port, '/ready']);
  assert.equal(early.code, 0);
  assert.ok(paths.length > 1, `asked again while not ready (${paths.length} requests)`);
  assert.equal((await probe(file, [port, '/ready'])).code, 0);
  // 503 on another path for the whole 2.5 s window: unhealthy.
  assert.equal((await probe(file, [port, '/v1/health'])).code, 1);
  assert.ok(paths.includes('/v1/health'));
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  assert.equal((await probe(file, [port, '/ready'])).code, 1, 'nothing listens any more');
});

test('architecture names: Docker and uname spellings map to Node\'s', () => {
  assert.equal(nodeArch('amd64'), 'x64');
  assert.equal(nodeArch('x86_64'), 'x64');
  assert.equal(nodeArch('aarch64'), 'arm64');
  assert.equal(nodeArch('arm64'), 'arm64');
  assert.ok(meshReadyBinaries.x64 && meshReadyBinaries.arm64, 'both binaries are shipped');
});
