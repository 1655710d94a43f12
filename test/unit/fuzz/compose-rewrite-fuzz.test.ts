// Fuzzing the compose rewriter through `meshctl inject`'s service (load with
// the YAML loader, normalise, rewrite, render, write atomically): random
// compose documents, some with YAML errors, give either a meshed file that is
// structurally valid compose, or a MeshError with the previous output left
// byte for byte as it was and no temp file behind. Never a crash, never half
// a file. A sample of the outputs also goes through `docker-compose config`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { GENERATED_HEADER, inject } from '../../../src/cli/compose/inject.ts';
import { findCompose } from '../../../src/cli/compose/compose-cli.ts';
import { MeshError } from '../../../src/shared/errors.ts';
import { FUZZ } from './fuzz-runs.ts';

const serviceName = fc.constantFrom('web', 'api', 'db', 'cache', 'a-b', 'x_1', 'Web', 'mesh-controller', 'web-mesh', 'web-net', 'mesh', '1st');
const netName = fc.constantFrom('default', 'front', 'back', 'mesh', 'web-net', 'x');
const port = fc.oneof(
  fc.constantFrom('8080', '80:8080', '127.0.0.1:9000:9000', '5353/udp', '3000-3002', '0', '99999', 'abc', ':80', '8080:'),
  fc.integer({ min: -1, max: 70000 }),
  fc.record({ target: fc.integer({ min: 0, max: 70000 }), published: fc.option(fc.integer({ min: 0, max: 70000 }), { nil: undefined }), protocol: fc.constantFrom('tcp', 'udp', 'sctp') }, { requiredKeys: ['target'] }),
  fc.anything({ maxDepth: 1 }),
);
const service = (names: string[]) =>
  fc.record(
    {
      image: fc.oneof(fc.constantFrom('nginx', 'x:1', 'registry:5000/a/b@sha256:' + 'a'.repeat(64)), fc.string()),
      build: fc.constantFrom('.', { context: '.' }, { context: '.', target: 'prod' }),
      ports: fc.oneof(fc.array(port, { maxLength: 3 }), fc.anything({ maxDepth: 1 })),
      expose: fc.array(fc.oneof(fc.constantFrom('8080', '53/udp', 'x'), fc.integer({ min: 0, max: 70000 })), { maxLength: 3 }),
      networks: fc.oneof(
        fc.array(netName, { maxLength: 3 }),
        fc.dictionary(netName, fc.oneof(fc.constant(null), fc.record({ aliases: fc.array(fc.constantFrom('alias', 'web', 'db'), { maxLength: 2 }) }), fc.anything({ maxDepth: 1 })), { maxKeys: 3 }),
      ),
      network_mode: fc.oneof(fc.constantFrom('host', 'none', 'bridge', '', 'container:abc'), fc.constantFrom(...names).map((n) => `service:${n}`)),
      depends_on: fc.oneof(
        fc.array(fc.constantFrom(...names, 'ghost'), { maxLength: 2 }),
        fc.dictionary(fc.constantFrom(...names), fc.record({ condition: fc.constantFrom('service_started', 'service_healthy', 'bogus') }), { maxKeys: 2 }),
      ),
      environment: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxKeys: 3 }), fc.array(fc.string(), { maxLength: 2 })),
      command: fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 })),
      restart: fc.constantFrom('always', 'unless-stopped', 'no', 'on-failure:3'),
      deploy: fc.record({ replicas: fc.integer({ min: -1, max: 5 }) }),
      healthcheck: fc.record({ test: fc.oneof(fc.constant(['CMD', 'true']), fc.string()), interval: fc.constantFrom('1s', '10s', 'x') }),
      'x-mesh': fc.anything({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  );
const composeDoc = fc
  .uniqueArray(serviceName, { minLength: 0, maxLength: 4 })
  .chain((names) =>
    fc.record(
      {
        version: fc.constantFrom('3.8', '2.4', '3', 3),
        services: names.length ? fc.tuple(...names.map(() => fc.oneof({ weight: 8, arbitrary: service(names) }, { weight: 1, arbitrary: fc.anything({ maxDepth: 1 }) }))).map((svcs) => Object.fromEntries(names.map((n, i) => [n, svcs[i]]))) : fc.constant({}),
        networks: fc.dictionary(netName, fc.oneof(fc.constant(null), fc.record({ driver: fc.constantFrom('bridge', 'overlay') }), fc.record({ external: fc.constant(true) }), fc.anything({ maxDepth: 1 })), { maxKeys: 3 }),
        volumes: fc.dictionary(fc.constantFrom('data', 'logs'), fc.constant(null), { maxKeys: 2 }),
      },
      { requiredKeys: ['services'] },
    ),
  );
/** The YAML text: a document, or one with a YAML error spliced in. */
const composeText = fc.oneof(
  { weight: 6, arbitrary: composeDoc.map((d) => stringify(d)) },
  { weight: 1, arbitrary: fc.tuple(composeDoc.map((d) => stringify(d)), fc.constantFrom(':\n  - [', '\t\tbad: indent', 'services: [1, 2', '*alias', '%TAG', '{a: 1', 'key: "unterminated')).map(([t, junk]) => `${t}\n${junk}\n`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
);

/** What `docker-compose config` would trip over first, checked on the output as read back. */
function structuralProblems(out: any): string[] {
  const problems: string[] = [];
  if (!out || typeof out !== 'object' || !out.services || typeof out.services !== 'object') return ['no services map'];
  const nets = new Set(['default', ...Object.keys(out.networks ?? {})]);
  for (const [name, svc] of Object.entries<any>(out.services)) {
    if (!svc || typeof svc !== 'object') {
      problems.push(`${name} is not a map`);
      continue;
    }
    if (svc.network_mode && svc.networks) problems.push(`${name} has network_mode and networks`);
    const used = Array.isArray(svc.networks) ? svc.networks : Object.keys(svc.networks ?? {});
    for (const n of used) if (!nets.has(n)) problems.push(`${name} joins undefined network ${n}`);
    const deps = Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {});
    for (const d of deps) if (!out.services[d]) problems.push(`${name} depends on undefined service ${d}`);
  }
  return problems;
}

test('fuzz: inject on random compose documents: a structurally valid meshed file, or a MeshError and the old output untouched', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-fuzz-compose-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'compose.yaml');
  const stateDir = join(dir, '.mesh');
  const output = join(stateDir, 'compose.yaml');
  let ok = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(composeText, async (text) => {
      // A previous good output, which a failed run must leave exactly as it is.
      mkdirSync(stateDir, { recursive: true });
      const previous = `${GENERATED_HEADER}\nservices: {previous: {image: x}}\n`;
      writeFileSync(output, previous);
      writeFileSync(file, text);
      let result: Awaited<ReturnType<typeof inject>> | undefined;
      try {
        result = await inject({ files: [file], loader: 'yaml', inspectDocker: false, project: 'fuzz', image: 'mesh:fuzz' });
      } catch (err) {
        assert.ok(err instanceof MeshError, `not a MeshError: ${(err as Error)?.stack ?? err}`);
        assert.ok(err.message.length > 0);
        assert.equal(readFileSync(output, 'utf8'), previous, 'a refused run left the old output as it was');
        assert.deepEqual(readdirSync(stateDir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
        refused++;
        return;
      }
      const written = readFileSync(result.output, 'utf8');
      assert.ok(written.startsWith(GENERATED_HEADER));
      const back = parse(written, { version: '1.1' });
      // A problem already in the user's file is compose's to report; from a sound file, a sound output.
      if (structuralProblems(result.input).length === 0) assert.deepEqual(structuralProblems(back), []);
      assert.deepEqual(readdirSync(stateDir).filter((f) => f.endsWith('.tmp')), []);
      ok++;
    }),
    FUZZ,
  );
  t.diagnostic(`${ok} meshed, ${refused} refused with a MeshError`);
  assert.ok(ok > 0 && refused > 0, 'the generator reaches both outcomes');
});

/** Documents compose itself accepts: defined networks, existing dependencies, sane ports. */
const soundDoc = fc.uniqueArray(fc.constantFrom('web', 'api', 'db', 'cache'), { minLength: 1, maxLength: 4 }).chain((names) =>
  fc.record({
    services: fc
      .tuple(
        ...names.map((_, i) =>
          fc.record(
            {
              image: fc.constantFrom('nginx', 'redis:7'),
              ports: fc.uniqueArray(fc.constantFrom('8080', '127.0.0.1:9000:9000', '5353/udp', `${8100 + i}:80`), { maxLength: 2 }),
              expose: fc.uniqueArray(fc.constantFrom('8080', '53/udp', '3000'), { maxLength: 2 }),
              networks: fc.uniqueArray(fc.constantFrom('front', 'back'), { minLength: 1, maxLength: 2 }),
              // Only on services listed before: compose refuses a dependency cycle.
              depends_on: i > 0 ? fc.uniqueArray(fc.constantFrom(...names.slice(0, i)), { maxLength: 2 }) : fc.constant([]),
              restart: fc.constantFrom('always', 'unless-stopped', 'no'),
              environment: fc.dictionary(fc.constantFrom('A', 'B_C'), fc.constantFrom('1', 'x y', '$$HOME'), { maxKeys: 2 }),
            },
            { requiredKeys: ['image', 'networks'] },
          ),
        ),
      )
      .map((svcs) => Object.fromEntries(names.map((n, i) => [n, svcs[i]]))),
    networks: fc.constant({ front: null, back: { driver: 'bridge' } }),
  }),
);

test('fuzz: sound compose documents give outputs that docker-compose config accepts', { skip: !findCompose() && 'needs docker-compose' }, async (t) => {
  const cli = findCompose()!;
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-fuzz-compose-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'compose.yaml');
  const config = (f: string) => spawnSync(cli.command[0]!, [...cli.command.slice(1), '-p', 'fuzz', '-f', f, 'config', '-q'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  await fc.assert(
    fc.asyncProperty(soundDoc, async (doc) => {
      // YAML 1.1 quoting, as compose v1 reads it (`no` would be false).
      writeFileSync(file, stringify(doc, { version: '1.1' }));
      assert.equal(config(file).status, 0, 'the generated input is itself valid compose');
      const result = await inject({ files: [file], loader: 'yaml', inspectDocker: false, project: 'fuzz', image: 'mesh:fuzz' });
      const r = config(result.output);
      assert.equal(r.status, 0, `docker-compose config refused the output:\n${r.stderr}\n${readFileSync(result.output, 'utf8')}`);
    }),
    // Each case starts docker-compose (a Python program) twice: a handful is what CI affords.
    { ...FUZZ, numRuns: Math.min(FUZZ.numRuns, Number(process.env.FUZZ_COMPOSE_RUNS) || 2) },
  );
});
