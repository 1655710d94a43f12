import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const runProxy = fileURLToPath(new URL('../../../src/proxy/run-proxy.ts', import.meta.url));
const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const program = fileURLToPath(new URL('../../../src/cli/program.ts', import.meta.url));

// In a child of its own, so the list holds what the sidecar's module graph loads and nothing the runner did.
function builtinsLoadedBy(mod: string): string[] {
  const script = `await import(${JSON.stringify(mod)}); console.log(JSON.stringify(process.moduleLoadList));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
}

test('the sidecar does not load the built-in undici (no `import … from "node:http"`: use src/proxy/node-http.ts)', () => {
  const loaded = builtinsLoadedBy(runProxy);
  assert.ok(loaded.includes('NativeModule http'), 'the check is meaningful: node:http itself is loaded');
  // Each of these comes with Node's ES module facade for node:http (src/proxy/node-http.ts says why).
  for (const m of ['internal/deps/undici/undici', 'zlib']) assert.ok(!loaded.includes(`NativeModule ${m}`), `${m} loaded`);
});

test('the /tap endpoint and the control-plane API schemas load on first use, not at start', () => {
  const script = `
    const seen = [];
    (await import('node:module')).registerHooks({ load(url, ctx, next) { seen.push(url); return next(url, ctx); } });
    await import(${JSON.stringify(runProxy)});
    console.log(JSON.stringify(seen.filter((u) => u.includes('/src/'))));`;
  const files = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
  assert.ok(files.some((u) => u.endsWith('/src/proxy/admin/admin-server.ts')), 'the check is meaningful: the admin server is loaded');
  for (const f of ['/src/proxy/admin/tap-endpoint.ts', '/src/shared/api.ts']) assert.ok(!files.some((u) => u.endsWith(f)), `${f} loaded at start`);
});

test('`meshctl proxy` loads its own command only, and helps as the full program does', () => {
  // `meshctl proxy --help` in a child: the files of ours it loads (help exits before the proxy loads) and its output.
  const script = `
    const seen = [];
    (await import('node:module')).registerHooks({ load(url, ctx, next) { seen.push(url); return next(url, ctx); } });
    process.on('exit', () => process.stderr.write(JSON.stringify(seen.filter((u) => u.includes('/src/')))));
    process.argv = [process.execPath, ${JSON.stringify(main)}, 'proxy', '--help'];
    await import(${JSON.stringify(main)});`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const files = JSON.parse(r.stderr) as string[];
  assert.ok(files.some((u) => u.endsWith('/src/cli/commands/proxy.ts')), 'the check is meaningful: the proxy command is loaded');
  for (const f of ['/src/cli/program.ts', '/src/cli/commands/up.ts', '/src/cli/commands/top.ts', '/src/cli/commands/canary.ts']) {
    assert.ok(!files.some((u) => u.endsWith(f)), `${f} loaded by meshctl proxy`);
  }
  const full = `const { buildProgram } = await import(${JSON.stringify(program)}); await buildProgram().parseAsync(['node', 'meshctl', 'proxy', '--help']);`;
  assert.equal(r.stdout, execFileSync(process.execPath, ['--input-type=module', '-e', full], { encoding: 'utf8' }));
});
