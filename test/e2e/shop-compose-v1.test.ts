// The shop meshed by `meshctl up` driving compose v1 (`docker-compose`),
// forced with MESH_COMPOSE=v1 where v2 is installed too: the other e2e tests
// run on v2 (meshctl prefers it), this one keeps the v1 path covered end to
// end: up, a request through web, status, down. In CI a missing v1 fails.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { composeOfKind } from '../../src/cli/compose/compose-cli.ts';
import { docker, shopProject, skipWithoutDocker } from '../harness/shop-project.ts';

const v1 = composeOfKind('v1');
const skip = skipWithoutDocker || (!v1 && process.env.CI !== 'true' && 'needs docker-compose (v1)');
const shop = shopProject('shopv1', { MESH_COMPOSE: 'v1' });
const { project, meshctl } = shop;

after(async () => {
  if (!skip) await shop.down();
});

test('compose v1: meshctl up, a request through web to order, inventory and payment, status in sync, down leaves nothing', { skip }, async (t) => {
  assert.ok(v1, 'CI needs `docker-compose` (v1); scripts/setup.sh installs it');
  const up = await shop.up();
  assert.equal(up.code, 0, `meshctl up failed:\n${up.stderr}`);
  // Every container was created by v1 (compose stamps its own version on each).
  const versions = new Set(docker('ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.version"}}').stdout.split('\n').filter(Boolean));
  assert.deepEqual([...versions], [v1.version]);
  t.diagnostic(`meshctl up with ${v1.command.join(' ')} ${v1.version}: ${up.seconds.toFixed(1)} s`);

  const res = await fetch(`http://127.0.0.1:${shop.webPort}/buy?sku=mug`, { method: 'POST', signal: AbortSignal.timeout(15_000) });
  const body = (await res.json()) as any;
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.match(body.servedBy, /^order\//);
  assert.match(body.order.inventory.servedBy, /^inventory\//);
  assert.equal(body.order.payment.charged, true);

  await shop.assertAllInSync();

  // Without MESH_COMPOSE, down still takes the compose up used (recorded in .mesh/up.json).
  const down = await meshctl(['down', '-v'], { MESH_COMPOSE: '' });
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stderr, /compose: down project .*\(docker-compose\)/);
  assert.equal(docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`).stdout.trim(), '');
  // A network Docker 20.10 still counts a removed container's endpoint in (moby/moby#42119) cannot go until
  // dockerd restarts; down names it. Anything else left is a failure.
  const stuck = [...down.stderr.matchAll(/network (\S+) is left: Docker says it has active endpoints/g)].map((m) => m[1]!);
  for (const n of stuck) {
    assert.equal(docker('network', 'inspect', '-f', '{{len .Containers}}', n).stdout.trim(), '0', `${n} has containers`);
    t.diagnostic(`Docker kept ${n} with a stale endpoint (moby/moby#42119)`);
  }
  const left = docker('network', 'ls', '--format', '{{.Name}}', '--filter', `name=${project}`).stdout.split('\n').filter((n) => n && !stuck.includes(n));
  assert.deepEqual(left, []);
});
