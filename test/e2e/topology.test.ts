// The topology inside Docker on real compose: each app sits alone on its S-net,
// resolves every other service to its own sidecar, and cannot reach another
// app directly; sidecars reach each other on the mesh network. The sidecars
// are real `meshctl proxy` processes serving static snapshot files (no
// controller, plaintext): a calls http://b:8080 and the request crosses
// a-mesh and b-mesh. Everything runs from this package's image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCompose } from '../../src/cli/compose/compose-cli.ts';
import { inject } from '../../src/cli/compose/inject.ts';
import { compose, runCompose } from '../../src/cli/compose/run-compose.ts';
import { ensureImage } from '../../src/cli/image/ensure-image.ts';
import { ADMIN_PORT } from '../../src/cli/compose/rewrite-compose.ts';
import { parseSnapshot, type SnapshotInput } from '../../src/shared/snapshot.ts';
import { eventually } from '../harness/eventually.ts';

const docker = (...args: string[]) => spawnSync('docker', args, { encoding: 'utf8' });
const engine = docker('info', '-f', '{{.ServerVersion}}').status === 0;
const cli = findCompose();

/** Runs a node snippet inside a container (the image has no shell). */
function nodeIn(container: string, script: string): string {
  const r = docker('exec', container, '/usr/local/bin/node', '-e', script);
  assert.equal(r.status, 0, `node in ${container}: ${r.stderr}`);
  return r.stdout.trim();
}

test('topology: app alone on its S-net, peers resolve to its own sidecar, no direct app-to-app path, traffic crosses both sidecars', { skip: (!engine || !cli) && 'needs a Docker engine and compose' }, async (t) => {
  const { tag } = await ensureImage();
  const project = `meshtopo${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'mesh-topo-'));
  const files: string[] = [];
  t.after(async () => {
    if (files.length) await runCompose(cli!, { files, project }, ['down', '-v', '--remove-orphans', '-t', '1']).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    const left = docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`).stdout.trim();
    const nets = docker('network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`).stdout.trim();
    assert.equal(left + nets, '', 'down leaves no container or network behind');
  });
  writeFileSync(
    join(dir, 'compose.yaml'),
    `services:
  a:
    image: ${tag}
    command: [sample-app, --port, "8080", --name, a]
  b:
    image: ${tag}
    command: [sample-app, --port, "8080", --name, b]
    ports: ["127.0.0.1::8080"]
`,
  );
  const r = await inject({ files: [join(dir, 'compose.yaml')], project });
  // Real proxies from static snapshot files, re-read on SIGHUP once addresses are known.
  const snaps = join(dir, 'snapshots');
  mkdirSync(snaps);
  const writeSnapshot = (service: string, snap: Omit<SnapshotInput, 'node'>) => {
    const full = { ...snap, node: { service, project } };
    const parsed = parseSnapshot(full);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.issues.join('; '));
    writeFileSync(join(snaps, `${service}.json`), JSON.stringify(full));
  };
  writeSnapshot('a', { version: 1 });
  writeSnapshot('b', { version: 1 });
  const sidecars = join(dir, '.mesh', 'static-sidecars.yaml');
  const sidecar = (s: string) => `  ${s}-mesh:
    command: [proxy, --config, /etc/mesh/${s}.json, --admin, "127.0.0.1:${ADMIN_PORT}"]
    volumes: ["${snaps}:/etc/mesh:ro"]
`;
  writeFileSync(sidecars, `services:\n${sidecar('a')}${sidecar('b')}`);
  files.push(r.output, sidecars);
  await compose.up(cli!, { files, project }, []);

  const id = (service: string) => {
    const out = docker('ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`).stdout.trim();
    assert.ok(out, `${service} is running`);
    return out.split('\n')[0]!;
  };
  const networksOf = (c: string) => JSON.parse(docker('inspect', '-f', '{{json .NetworkSettings.Networks}}', c).stdout) as Record<string, { IPAddress: string; Aliases: string[] | null }>;
  const [a, b, aMesh, bMesh] = [id('a'), id('b'), id('a-mesh'), id('b-mesh')];

  // The app sits on its own network only; its sidecar on the user network and on a-net.
  assert.deepEqual(Object.keys(networksOf(a)), [`${project}_a-net`]);
  assert.deepEqual(Object.keys(networksOf(aMesh)).sort(), [`${project}-mesh`, `${project}_a-net`, `${project}_default`]);
  assert.equal(docker('inspect', '-f', '{{index .Config.Labels "mesh.role"}}', a).stdout.trim(), 'app');
  assert.equal(docker('inspect', '-f', '{{index .Config.Labels "mesh.role"}}', aMesh).stdout.trim(), 'proxy');

  // From a, the name b resolves to a's own sidecar on a-net.
  const aMeshIp = networksOf(aMesh)[`${project}_a-net`]!.IPAddress;
  const resolved = JSON.parse(nodeIn(a, "require('dns').lookup('b',{all:true},(e,r)=>console.log(JSON.stringify(e?String(e):r.map(x=>x.address))))")) as string[];
  assert.deepEqual(resolved, [aMeshIp]);
  // a cannot reach b's app container directly ...
  const bIp = networksOf(b)[`${project}_b-net`]!.IPAddress;
  const direct = nodeIn(a, `const s=require('net').connect(8080,'${bIp}');s.setTimeout(3000,()=>{console.log('timeout');process.exit(0)});s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)})`);
  assert.notEqual(direct, 'connected', `a reached b's app at ${bIp} directly`);
  t.diagnostic(`direct connection from a to b's app: ${direct}`);
  // ... but through the mesh it can: a -> a-mesh (outbound :8080, route by Host) -> b-mesh on the
  // mesh network (inbound :9080) -> b on b-net.
  const bMeshIp = networksOf(bMesh)[`${project}-mesh`]!.IPAddress;
  writeSnapshot('a', {
    version: 2,
    listeners: [{ name: 'out-8080', port: 8080, direction: 'outbound', protocol: 'http', routes: [{ name: 'b', match: { hosts: ['b'] }, destinations: [{ cluster: 'out-b-8080' }], service: 'b' }] }],
    clusters: [{ name: 'out-b-8080', service: 'b', endpoints: [{ address: bMeshIp, port: 9080 }] }],
  });
  writeSnapshot('b', {
    version: 2,
    listeners: [
      { name: 'in-9080', port: 9080, direction: 'inbound', protocol: 'http', routes: [{ name: 'app', destinations: [{ cluster: 'in-b-8080' }], service: 'b' }] },
      // The published port, now on the sidecar: host traffic enters the mesh here.
      { name: 'in-8080', port: 8080, direction: 'inbound', protocol: 'http', routes: [{ name: 'host', destinations: [{ cluster: 'in-b-8080' }], service: 'b' }] },
    ],
    clusters: [{ name: 'in-b-8080', service: 'b', endpoints: [{ address: bIp, port: 8080 }] }],
  });
  for (const c of [aMesh, bMesh]) assert.equal(docker('kill', '-s', 'HUP', c).status, 0);
  const through = await eventually(
    () => {
      const out = JSON.parse(nodeIn(a, "fetch('http://b:8080/hello').then(async r=>console.log(JSON.stringify({status:r.status,body:await r.text()})),e=>console.log(JSON.stringify({error:String(e.cause??e)})))")) as { status?: number; body?: string; error?: string };
      assert.equal(out.status, 200, JSON.stringify(out));
      return JSON.parse(out.body!) as { service: string; path: string };
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  );
  assert.equal(through.service, 'b');
  assert.equal(through.path, '/hello');
  // The request was carried by the sidecars: both logged it.
  assert.match(docker('logs', aMesh).stdout + docker('logs', aMesh).stderr, /\/hello/);
  assert.match(docker('logs', bMesh).stdout + docker('logs', bMesh).stderr, /\/hello/);

  // Published ports live on the sidecar; `logs b` still shows the app.
  const published = /127\.0\.0\.1:(\d+)/.exec(docker('port', bMesh, '8080/tcp').stdout);
  assert.ok(published, 'b-mesh publishes 8080');
  assert.equal(docker('port', b).stdout.trim(), '');
  const fromHost = (await (await fetch(`http://127.0.0.1:${published[1]}/from-host`)).json()) as { service: string };
  assert.equal(fromHost.service, 'b');
  assert.match(docker('logs', bMesh).stdout + docker('logs', bMesh).stderr, /\/from-host/);
  const logs = await runCompose(cli!, { files, project }, ['logs', '--no-color', 'b']);
  assert.match(logs.stdout, /sample-app listening on :8080/);
});
