// `meshctl up` on a project with no mesh.config.ts and services whose ports
// are written nowhere: the controller learns the ports an app listens on from
// its network namespace (a helper container reading /proc/net/tcp{,6}), so it
// is reachable through the mesh; one that listens on loopback only is named by
// `meshctl status` with the fix; a service left out with --exclude is still
// reached through the caller's sidecar (plaintext passthrough); a second `up`
// with nothing changed recreates no container.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCompose } from '../../src/cli/compose/compose-cli.ts';
import { ensureImage } from '../../src/cli/image/ensure-image.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const docker = (...args: string[]) => spawnSync('docker', args, { encoding: 'utf8', timeout: 60_000 });
const engine = docker('info', '-f', '{{.ServerVersion}}').status === 0;

function meshctl(cwd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a node snippet inside a container (the image has no shell). */
function nodeIn(container: string, script: string): string {
  const r = docker('exec', container, '/usr/local/bin/node', '-e', script);
  assert.equal(r.status, 0, `node in ${container}: ${r.stderr}`);
  return r.stdout.trim();
}

test('undeclared ports are learned at up and reachable through the mesh; unlearnable ones are named by status; up again recreates nothing', { skip: (!engine || !findCompose()) && 'needs a Docker engine and compose' }, async (t) => {
  const run = randomBytes(3).toString('hex');
  const project = `upports${run}`;
  const image = `mesh:up-ports-${run}`;
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-up-ports-'));
  t.after(async () => {
    await meshctl(dir, ['down', '-v']);
    const left = docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`).stdout.split('\n').filter(Boolean);
    if (left.length) docker('rm', '-f', ...left);
    docker('image', 'rm', '-f', image);
    rmSync(dir, { recursive: true, force: true });
  });
  await ensureImage({ tag: image });
  // `mystery` listens on 9000 and `hidden` (a node one-liner) on 7070, but neither the file, the image
  // nor a config says so; `local` listens on 127.0.0.1 only (no sidecar can reach that); `known` declares `expose`.
  writeFileSync(
    join(dir, 'compose.yaml'),
    `services:
  mystery:
    image: ${image}
    command: [sample-app, --port, "9000", --name, mystery]
  hidden:
    image: ${image}
    entrypoint: [/usr/local/bin/node]
    command: [-e, "require('http').createServer((q,s)=>s.end('hidden says hi')).listen(7070)"]
  local:
    image: ${image}
    entrypoint: [/usr/local/bin/node]
    command: [-e, "require('http').createServer((q,s)=>s.end('local')).listen(7071,'127.0.0.1')"]
  known:
    image: ${image}
    command: [sample-app, --port, "8080", --name, known]
    expose: ["8080"]
  legacy:
    image: ${image}
    entrypoint: [/usr/local/bin/node]
    command: [-e, "require('http').createServer((q,s)=>s.end('legacy, unmeshed')).listen(7072)"]
`,
  );
  const up = await meshctl(dir, ['up', '-p', project, '--image', image, '--no-build', '--exclude', 'legacy', '--json']);
  assert.equal(up.code, 0, up.stderr);
  const ids = () => docker('ps', '-q', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`).stdout.split('\n').filter(Boolean).sort();
  const first = ids();
  assert.equal(first.length, 10, 'four meshed apps, their four sidecars, legacy (unmeshed), the controller');
  assert.deepEqual(docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=mesh.role=port-probe').stdout.trim(), '', 'no port probe left behind');

  const status = await meshctl(dir, ['status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout);
  const portsOf = (name: string) => s.services.find((x: { name: string }) => x.name === name).ports;
  assert.deepEqual(portsOf('mystery'), [9000]);
  assert.deepEqual(portsOf('hidden'), [7070]);
  assert.deepEqual(portsOf('known'), [8080]);
  assert.deepEqual(s.portsUnknown.map((u: { service: string }) => u.service), ['local']);
  assert.match(s.portsUnknown[0].fix, /mesh\.config\.ts.*local: \{ ports: \[/);
  const text = await meshctl(dir, ['status']);
  assert.match(text.stdout, /warning: local: no listening port learned/);

  // Through the mesh: known's app → known-mesh (outbound :7070, learned) → hidden-mesh (mTLS) → hidden.
  const known = docker('ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=known').stdout.trim();
  const got = JSON.parse(nodeIn(known, "fetch('http://hidden:7070/').then(async r=>console.log(JSON.stringify({status:r.status,body:await r.text()})),e=>console.log(JSON.stringify({error:String(e.cause??e)})))"));
  assert.deepEqual(got, { status: 200, body: 'hidden says hi' });
  const mystery = JSON.parse(nodeIn(known, "fetch('http://mystery:9000/hello').then(async r=>console.log(JSON.stringify({status:r.status})),e=>console.log(JSON.stringify({error:String(e.cause??e)})))"));
  assert.equal(mystery.status, 200, JSON.stringify(mystery));

  // legacy has no sidecar: known-mesh passes the call through in plaintext to legacy's app (port learned too).
  const legacyMesh = docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=legacy-mesh').stdout.trim();
  assert.equal(legacyMesh, '', 'legacy got no sidecar');
  assert.deepEqual(portsOf('legacy'), [7072]);
  const legacy = JSON.parse(nodeIn(known, "fetch('http://legacy:7072/').then(async r=>console.log(JSON.stringify({status:r.status,body:await r.text()})),e=>console.log(JSON.stringify({error:String(e.cause??e)})))"));
  assert.deepEqual(legacy, { status: 200, body: 'legacy, unmeshed' });
  const knownMesh = docker('ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=known-mesh').stdout.trim();
  assert.match(docker('logs', knownMesh).stdout, /"direction":"outbound".*"destination":"legacy"/, 'the call went through known-mesh');

  const again = await meshctl(dir, ['up', '-p', project, '--image', image, '--no-build', '--exclude', 'legacy']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(ids(), first, 'no container was recreated');
});
