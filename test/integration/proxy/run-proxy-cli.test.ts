// `meshctl proxy --config file --admin host:port` as a process: serves the
// file, reloads on SIGHUP, keeps the old snapshot on a bad reload, exits 2
// naming the field on an invalid file, drains on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { httpUpstream, echoHandler, closedPort } from '../../harness/upstream-servers.ts';
import { snapshot, httpListener, cluster } from '../../harness/proxy-builder.ts';
import { request } from '../../harness/http-client.ts';
import { eventually } from '../../harness/eventually.ts';

const main = new URL('../../../src/cli/main.ts', import.meta.url).pathname;

function run(args: string[]): { child: ChildProcess; stderr: () => string; stdout: () => string } {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stderr!.on('data', (c: Buffer) => (err += c));
  child.stdout!.on('data', (c: Buffer) => (out += c));
  return { child, stderr: () => err, stdout: () => out };
}

test('meshctl proxy serves a snapshot file, reloads on SIGHUP, rejects a bad reload, drains on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-proxy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = await httpUpstream(echoHandler('a'));
  t.after(() => a.close());
  const b = await httpUpstream(echoHandler('b'));
  t.after(() => b.close());
  const port = await closedPort();
  const adminPort = await closedPort();
  const file = join(dir, 'snapshot.json');
  const write = (clusterPort: number, version: number): void =>
    writeFileSync(file, JSON.stringify(snapshot([httpListener('out', [{ name: 'r', destinations: [{ cluster: 'c' }] }], { port })], [cluster('c', [clusterPort])], { version })));
  write(a.port, 1);
  const p = run(['proxy', '--config', file, '--admin', `127.0.0.1:${adminPort}`]);
  t.after(() => p.child.kill('SIGKILL'));
  await eventually(async () => assert.equal((await fetch(`http://127.0.0.1:${adminPort}/ready`)).status, 200));
  assert.equal(JSON.parse((await request(port)).body).name, 'a');
  await eventually(() => assert.match(p.stdout(), /"kind":"http"/), { timeoutMs: 5000 });

  write(b.port, 2);
  p.child.kill('SIGHUP');
  await eventually(async () => assert.equal(JSON.parse((await request(port)).body).name, 'b'));

  writeFileSync(file, '{"version": 3, "node": {}}');
  p.child.kill('SIGHUP');
  await eventually(() => assert.match(p.stderr(), /rejected .*keeping the live snapshot[\s\S]*node\.service/));
  assert.equal(JSON.parse((await request(port)).body).name, 'b');

  p.child.kill('SIGTERM');
  const [code] = await once(p.child, 'exit');
  assert.equal(code, 0);
});

test('meshctl proxy exits 2 and names the field path on an invalid file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-proxy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ version: 1, node: { service: 'x' }, listeners: [{ name: 'l', port: 70000, direction: 'outbound' }] }));
  const p = run(['proxy', '--config', file, '--admin', '127.0.0.1:0']);
  const [code] = await once(p.child, 'exit');
  assert.equal(code, 2);
  assert.match(p.stderr(), /listeners\[0\]\.port/);
  assert.match(p.stderr(), /MESH_ERR_SNAPSHOT_INVALID/);
});
