// Every compose file of the shared corpus is injected (by the compose meshctl
// picks: v2 when installed); the generated file must be accepted by every
// compose on this machine, v2 and v1, and keep what each service had.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, globSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { inject } from '../../src/cli/compose/inject.ts';
import { loadCompose } from '../../src/cli/compose/load-compose.ts';
import { runCompose } from '../../src/cli/compose/run-compose.ts';
import { composeOfKind, findCompose, type ComposeCli } from '../../src/cli/compose/compose-cli.ts';
import { isObj, type ComposeModel, type Obj } from '../../src/cli/compose/compose-model.ts';
import { MeshError } from '../../src/shared/errors.ts';

const corpus = process.env.MESH_COMPOSE_CORPUS ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'compose-corpus');
const cli = findCompose();
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const preserved = ['image', 'build', 'volumes', 'environment', 'env_file', 'secrets', 'configs', 'profiles', 'command', 'healthcheck'];
// Each generated file is checked with both implementations: users run v2 or v1.
const checkers = [composeOfKind('v2'), composeOfKind('v1')].filter((c): c is ComposeCli => !!c);
// The only corpus files a compose itself refuses: v1 a top-level `name:`, v2 an
// unset variable as a bind source (`${PLEX_MEDIA_PATH}:/media/`); the yaml loader meshes both.
const refusedBy: Record<ComposeCli['kind'], string[]> = {
  v1: ['awesome-compose/react-rust-postgres/compose.yaml'],
  v2: ['awesome-compose/plex/compose.yaml'],
};

test('compose corpus: both compose implementations are installed in CI', { skip: process.env.CI !== 'true' && 'not CI' }, () => {
  assert.deepEqual(checkers.map((c) => c.kind), ['v2', 'v1'], 'scripts/setup.sh installs `docker compose` (v2) and `docker-compose` (v1); CI runs the corpus through both');
});

test('compose corpus: every file injects, every compose accepts the result, services keep what they had', { skip: !cli && 'no compose binary on this machine' }, async (t) => {
  // Work on a copy: the generated .mesh/ must not land in the shared corpus.
  const tmp = mkdtempSync(join(tmpdir(), 'mesh-corpus-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  cpSync(corpus, tmp, { recursive: true });
  const files = globSync('**/{compose,docker-compose}.{yaml,yml}', { cwd: tmp }).filter((f) => !f.includes('.mesh')).sort();
  assert.ok(files.length >= 39, `corpus has ${files.length} files`);
  const refused = new Map<ComposeCli['kind'], string[]>(checkers.map((c) => [c.kind, []]));
  let withPorts = 0;
  let meshedTotal = 0;

  // Each compose in turn writes the file (its `config` is the loader); every
  // compose must accept what it wrote, and in the writer's own normal form (the
  // yaml loader's where it refuses the input) every service keeps what it had.
  for (const writer of checkers) {
    for (const rel of files) {
      await t.test(`${writer.kind}: ${rel}`, async () => {
        const file = join(tmp, rel);
        const project = `meshcorpus${basename(dirname(rel)).replace(/[^a-z0-9]/gi, '').toLowerCase()}`;
        const before = sha(file);
        let viaYaml = false;
        let r;
        try {
          r = await inject({ files: [file], project, loader: 'compose', cli: writer, inspectDocker: false });
        } catch (err) {
          // A file this compose itself rejects is refused with compose's reason;
          // the yaml loader still meshes it, and every compose must accept the output.
          assert.ok(err instanceof MeshError && err.code === 'MESH_ERR_COMPOSE_INVALID', String(err));
          refused.get(writer.kind)!.push(rel);
          viaYaml = true;
          r = await inject({ files: [file], project, loader: 'yaml', inspectDocker: false });
        }
        assert.equal(sha(file), before, 'the user file is byte-for-byte unchanged');
        assert.equal(r.output, join(dirname(file), '.mesh', 'compose.yaml'));
        for (const checker of checkers) await runCompose(checker, { files: [r.output], project }, ['config', '-q']);
        const input = viaYaml ? (await loadCompose([file], { loader: 'yaml', project })).model : r.input;
        const output = (await loadCompose([r.output], { loader: viaYaml ? 'yaml' : 'compose', project, cli: writer })).model;
        compareServices(rel, input, output, r.meshed, r.skipped);
        if (writer === checkers[0]) {
          meshedTotal += r.meshed.length;
          withPorts += r.meshed.filter((s) => r.ports[s]!.length).length;
        }
      });
    }
  }
  t.diagnostic(`${withPorts} of ${meshedTotal} meshed services have ports known from the file or their build context; the rest are learned at up`);
  t.diagnostic(`written and checked with ${checkers.map((c) => `${c.command.join(' ')} ${c.version}`).join(' and ')}`);
  for (const c of checkers) assert.deepEqual(refused.get(c.kind), refusedBy[c.kind], `files ${c.kind} refuses`);
});

/** Every service keeps image/build, volumes, environment, secrets, profiles, dependencies; sidecars took the ports. */
function compareServices(where: string, input: ComposeModel, output: ComposeModel, meshed: string[], skipped: Array<{ service: string }>): void {
  for (const [name, svc] of Object.entries(input.services)) {
    const out = output.services[name];
    assert.ok(out, `${where}: service ${name} is still there`);
    for (const key of preserved) assert.deepEqual(out[key], svc[key], `${where}: ${name}.${key}`);
    const deps = isObj(out.depends_on) ? out.depends_on : {};
    for (const [dep, cond] of Object.entries(isObj(svc.depends_on) ? svc.depends_on : {})) assert.deepEqual(deps[dep], cond, `${where}: ${name} depends_on ${dep}`);
    if (meshed.includes(name)) {
      assert.deepEqual(deps[`${name}-mesh`], { condition: 'service_healthy' });
      const sc = output.services[`${name}-mesh`] as Obj;
      assert.deepEqual(sc.ports, svc.ports, `${where}: ${name}'s published ports moved to its sidecar`);
      assert.deepEqual(sc.profiles, svc.profiles);
      assert.equal(out.ports, undefined);
    } else {
      assert.ok(skipped.some((s) => s.service === name), `${where}: ${name} is meshed or skipped with a reason`);
      assert.deepEqual(out, svc, `${where}: ${name} is written as it was`);
    }
  }
  assert.deepEqual(output.secrets, input.secrets, `${where}: secrets`);
  assert.deepEqual(output.volumes, input.volumes, `${where}: volumes`);
}

test('compose corpus: the yaml fallback loader reads every file as compose does', { skip: !cli && 'no compose binary on this machine' }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'mesh-corpus-yaml-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  cpSync(corpus, tmp, { recursive: true });
  const keys = [...preserved, 'depends_on', 'ports', 'expose', 'entrypoint', 'restart', 'deploy', 'labels', 'networks', 'network_mode'];
  for (const rel of globSync('**/{compose,docker-compose}.{yaml,yml}', { cwd: tmp }).sort()) {
    const file = join(tmp, rel);
    const project = 'meshcorpusyaml';
    let reference;
    try {
      reference = (await loadCompose([file], { loader: 'compose', project })).model;
    } catch {
      continue; // compose itself refuses it (see above)
    }
    // Every service excluded: the output is the fallback loader's model, written back.
    const r = await inject({ files: [file], loader: 'yaml', project, exclude: Object.keys(reference.services), inspectDocker: false });
    const back = (await loadCompose([r.output], { loader: 'compose', project })).model;
    for (const [name, svc] of Object.entries(reference.services)) {
      for (const key of keys) assert.deepEqual(back.services[name]?.[key], svc[key], `${rel}: ${name}.${key}`);
    }
  }
});
