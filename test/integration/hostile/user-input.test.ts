// Broken user input to `meshctl up`, as a user would type it, on a copy of the
// shop: an invalid mesh.config.ts, one that does not load, a compose file with
// a YAML error, a config naming a service compose does not have, a port
// listed twice. Each: exit 2, a message naming the file and the field, and
// nothing changed — not a byte in the folder, no container, no network.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../src/cli/up/host-ports.ts';
import { ensureImage } from '../../../src/cli/image/ensure-image.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const engine = spawnSync('docker', ['info', '-f', '{{.ServerVersion}}'], { encoding: 'utf8' }).status === 0;
// `up --no-build` checks its image before reading the config: any mesh image already there will do; on a
// fresh machine one is built under a tag of this file's own and removed afterwards.
let image = engine ? spawnSync('docker', ['images', '--filter', 'reference=mesh', '--format', '{{.Repository}}:{{.Tag}}'], { encoding: 'utf8' }).stdout.split('\n')[0] : '';
const ownImage = engine && !image ? `mesh:input-${randomBytes(3).toString('hex')}` : undefined;
before(async () => {
  if (!ownImage) return;
  await ensureImage({ tag: ownImage });
  image = ownImage;
});
after(() => {
  if (ownImage) spawnSync('docker', ['image', 'rm', '-f', ownImage]);
});

function run(cwd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** Every file under dir with its content hash: "nothing changed on disk" is this map staying equal. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

const CONFIG_HEAD = "import type { MeshConfigInput } from '../../src/shared/mesh-config.ts';\nexport default ";

const cases: { name: string; file: 'mesh.config.ts' | 'compose.yaml'; text: (old: string) => string; expect: RegExp[] }[] = [
  {
    name: 'a mesh.config.ts value of the wrong type',
    file: 'mesh.config.ts',
    text: () => `${CONFIG_HEAD}{ services: { payment: { ports: [8080], retries: { attempts: 'three' } } } } satisfies MeshConfigInput;\n`,
    expect: [/mesh\.config\.ts: services\.payment\.retries\.attempts: expected an integer from 0 to 10, got "three"/],
  },
  {
    name: 'a mesh.config.ts that does not parse',
    file: 'mesh.config.ts',
    text: () => `${CONFIG_HEAD}{ services: { payment: { ports: [8080 } } };\n`,
    expect: [/mesh\.config\.ts: could not be loaded/],
  },
  {
    name: 'a compose file with a YAML error',
    file: 'compose.yaml',
    text: (old) => old.replace('services:\n', 'services:\n  broken: [1, 2\n'),
    expect: [/compose\.yaml/, /YAML|yaml/],
  },
  {
    name: 'a route for a service compose does not have',
    file: 'mesh.config.ts',
    text: () => `${CONFIG_HEAD}{ services: { web: { ports: [8080] }, ghost: { ports: [8080], routes: [{ to: [{ version: 'v2' }] }] } } };\n`,
    expect: [/mesh\.config\.ts: services\.ghost: no such service in compose\.yaml \(it has: inventory, order, payment, product, web\)/],
  },
  {
    name: 'a port listed twice',
    file: 'mesh.config.ts',
    text: () => `${CONFIG_HEAD}{ services: { order: { ports: [8080, { port: 8080, protocol: 'http' }] } } };\n`,
    expect: [/mesh\.config\.ts: services\.order\.ports: port 8080 is listed twice/],
  },
];

for (const c of cases) {
  test(`meshctl up with ${c.name}: exit 2, the file and field named, nothing changed on disk or in Docker`, { skip: !engine && 'needs a Docker engine' }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'meshctl-input-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(join(ROOT, 'examples/shop'), dir, { recursive: true, filter: (src) => !src.includes('/.mesh') });
    const path = join(dir, c.file);
    writeFileSync(path, c.text(readFileSync(path, 'utf8')));
    const before = tree(dir);
    const project = `input${randomBytes(3).toString('hex')}`;
    // Should `up` start anything after all, the assertions below fail; this leaves nothing behind either way.
    t.after(() => {
      const label = `label=com.docker.compose.project=${project}`;
      const left = spawnSync('docker', ['ps', '-aq', '--filter', label], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      if (left.length) spawnSync('docker', ['rm', '-f', ...left]);
      const nets = spawnSync('docker', ['network', 'ls', '-q', '--filter', label], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      if (nets.length) spawnSync('docker', ['network', 'rm', ...nets]);
    });
    // A free host port for web, so a busy 8080 cannot be what stops `up`.
    const r = await run(dir, ['up', '-p', project, '--no-build', '--image', image!], { SHOP_PORT: String(await freePort()) });
    assert.equal(r.code, 2, r.out);
    for (const re of c.expect) assert.match(r.out, re);
    assert.deepEqual(tree(dir), before, 'not a byte changed in the project folder');
    {
      const label = `label=com.docker.compose.project=${project}`;
      assert.equal(spawnSync('docker', ['ps', '-aq', '--filter', label], { encoding: 'utf8' }).stdout.trim(), '', 'no container');
      assert.equal(spawnSync('docker', ['network', 'ls', '-q', '--filter', label], { encoding: 'utf8' }).stdout.trim(), '', 'no network');
    }
  });
}
