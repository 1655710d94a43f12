// Every compose file of the shared corpus is injected; the generated file must
// be accepted by the compose on this machine and keep what each service had.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, globSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { inject } from '../../src/cli/compose/inject.ts';
import { loadCompose, type LoaderChoice } from '../../src/cli/compose/load-compose.ts';
import { findCompose } from '../../src/cli/compose/compose-cli.ts';
import { isObj, type Obj } from '../../src/cli/compose/compose-model.ts';
import { MeshError } from '../../src/shared/errors.ts';

const corpus = process.env.MESH_COMPOSE_CORPUS ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'compose-corpus');
const cli = findCompose();
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const preserved = ['image', 'build', 'volumes', 'environment', 'env_file', 'secrets', 'configs', 'profiles', 'command', 'healthcheck'];

test('compose corpus: every file injects, compose accepts the result, services keep what they had', { skip: !cli && 'no compose binary on this machine' }, async (t) => {
  // Work on a copy: the generated .mesh/ must not land in the shared corpus.
  const tmp = mkdtempSync(join(tmpdir(), 'mesh-corpus-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  cpSync(corpus, tmp, { recursive: true });
  const files = globSync('**/{compose,docker-compose}.{yaml,yml}', { cwd: tmp }).filter((f) => !f.includes('.mesh')).sort();
  assert.ok(files.length >= 39, `corpus has ${files.length} files`);
  let viaYaml = 0;
  let withPorts = 0;
  let meshedTotal = 0;

  for (const rel of files) {
    await t.test(rel, async () => {
      const file = join(tmp, rel);
      const project = `meshcorpus${basename(dirname(rel)).replace(/[^a-z0-9]/gi, '').toLowerCase()}`;
      const before = sha(file);
      let loader: LoaderChoice = 'compose';
      let r;
      try {
        r = await inject({ files: [file], project, loader, inspectDocker: false });
      } catch (err) {
        // Files this compose itself rejects (v1 and top-level `name:`) are refused
        // with compose's reason; the yaml loader still meshes them, and the
        // output must then be accepted by this compose.
        assert.ok(err instanceof MeshError && err.code === 'MESH_ERR_COMPOSE_INVALID', String(err));
        loader = 'yaml';
        viaYaml++;
        r = await inject({ files: [file], project, loader, inspectDocker: false });
      }
      assert.equal(sha(file), before, 'the user file is byte-for-byte unchanged');
      assert.equal(r.output, join(dirname(file), '.mesh', 'compose.yaml'));

      // The generated file passes `config` of the compose on this machine ...
      const back = await loadCompose([r.output], { loader: 'compose', project });
      const input = loader === 'compose' ? r.input : (await loadCompose([r.output.replace('/.mesh/compose.yaml', `/${basename(file)}`)], { loader: 'yaml', project })).model;
      const output = loader === 'compose' ? back.model : (await loadCompose([r.output], { loader: 'yaml', project })).model;
      // ... and every service keeps its image/build, volumes, environment, secrets, profiles, dependencies.
      for (const [name, svc] of Object.entries(input.services)) {
        const out = output.services[name];
        assert.ok(out, `service ${name} is still there`);
        for (const key of preserved) assert.deepEqual(out[key], svc[key], `${rel}: ${name}.${key}`);
        const deps = isObj(out.depends_on) ? out.depends_on : {};
        for (const [dep, cond] of Object.entries(isObj(svc.depends_on) ? svc.depends_on : {})) assert.deepEqual(deps[dep], cond, `${rel}: ${name} depends_on ${dep}`);
        if (r.meshed.includes(name)) {
          assert.deepEqual(deps[`${name}-mesh`], { condition: 'service_healthy' });
          const sc = output.services[`${name}-mesh`] as Obj;
          assert.deepEqual(sc.ports, svc.ports, `${rel}: ${name}'s published ports moved to its sidecar`);
          assert.deepEqual(sc.profiles, svc.profiles);
          assert.equal(out.ports, undefined);
        } else {
          assert.ok(r.skipped.some((s) => s.service === name), `${name} is meshed or skipped with a reason`);
          assert.deepEqual(out, svc);
        }
      }
      meshedTotal += r.meshed.length;
      withPorts += r.meshed.filter((s) => r.ports[s]!.length).length;
      assert.deepEqual(output.secrets, input.secrets);
      assert.deepEqual(output.volumes, input.volumes);
    });
  }
  t.diagnostic(`${withPorts} of ${meshedTotal} meshed services have ports known from the file or their build context; the rest are learned at up`);
  // Only react-rust-postgres (top-level `name:`) is refused by v1 itself.
  assert.equal(viaYaml, cli!.kind === 'v1' ? 1 : 0, `${viaYaml} files needed the yaml loader`);
});

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
