// A canary of the shop's product service on the real engine, meshed with
// `meshctl up`: `canary start --image` clones product with a new image tag,
// the header reaches it at weight 0, a manual 30 % split is what web's calls
// see (within 5 points), a controller restart keeps the rollout where it was,
// and resuming walks it to 100 % with zero failed client requests throughout,
// including the retirement of v1's containers after promotion. The header sent
// to web reaches product's canary too (propagated through the trace context).
// A payment canary that fails 20 % of charges, then one that is slow, are
// rolled back on their own (`--wait` exits 1); with no traffic a rollout holds.
// One project per run, from a copy of examples/shop; all removed after.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { eventually } from '../harness/eventually.ts';
import { docker, dockerAsync, shopProject, skipWithoutDocker } from '../harness/shop-project.ts';

const shop = shopProject('canaryshop');
const { project, meshctl } = shop;
const skip = skipWithoutDocker;
const canaryImage = `${shop.image}-v2`;

const status = async () => {
  const r = await meshctl(['canary', 'status', 'product', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
};
/** Requests in a loop, 4 at a time, until the returned stop() is called. */
function steadyLoad(path: string, method = 'GET') {
  let stop = false;
  const failures: string[] = [];
  const bodies: any[] = [];
  let sent = 0;
  const loop = Promise.all(
    Array.from({ length: 4 }, async () => {
      while (!stop) {
        sent++;
        try {
          const res = await fetch(`http://127.0.0.1:${shop.webPort}${path}`, { method, signal: AbortSignal.timeout(10_000) });
          const body = await res.json();
          if (res.status !== 200) failures.push(`${new Date().toISOString()} HTTP ${res.status} ${JSON.stringify(body)}`);
          else bodies.push(body);
        } catch (err) {
          failures.push(`${new Date().toISOString()} ${String((err as Error).cause ?? err)}`);
        }
      }
    }),
  );
  return {
    failures,
    bodies,
    sent: () => sent,
    stop: async () => {
      stop = true;
      await loop;
    },
  };
}
/** Sets payment's runtime faults inside one container (the app listens on 8080 in its own namespace). */
const paymentFaults = async (container: string, faults: { failRate: number; delayMs: number }) =>
  assert.equal(
    (await dockerAsync('exec', container, '/usr/local/bin/node', '-e', `fetch('http://127.0.0.1:8080/admin/faults',{method:'POST',headers:{'content-type':'application/json'},body:'${JSON.stringify(faults)}'}).then(r=>process.exit(r.ok?0:1))`)).status,
    0,
  );
const containers = shop.containers;

before(async () => {
  if (skip) return;
  const up = await shop.up();
  assert.equal(up.code, 0, `meshctl up failed:\n${up.stderr}`);
  assert.equal(docker('tag', shop.image, canaryImage).status, 0);
});

after(async () => {
  if (skip) return;
  docker('image', 'rm', canaryImage);
  await shop.down();
});

test('canary of product in the shop: --image, header at 0 %, measured split, controller restart, promotion with no failed request', { skip, timeout: 300_000 }, async () => {
  // Steady load through web (which calls product) for the whole test.
  const load = steadyLoad('/');
  const replicas = load.bodies as unknown as { catalogue?: { replica?: string } }[];
  const replicaAt = (i: number) => replicas[i]?.catalogue?.replica ?? '';
  try {
    const start = await meshctl(['canary', 'start', 'product', '--image', canaryImage, '--version', 'v2', '--steps', '0,50,100', '--interval', '2s', '--min-requests', '10', '--header', 'x-canary=1']);
    assert.equal(start.code, 0, start.stdout + start.stderr);
    await eventually(async () => assert.equal((await status()).state, 'progressing'), { timeoutMs: 90_000, intervalMs: 500 });
    const [canaryId] = containers('mesh.canary=true');
    assert.ok(canaryId, 'the canary container runs');
    const canaryHost = docker('inspect', '-f', '{{.Config.Hostname}}', canaryId!).stdout.trim();
    const stableIds = containers('com.docker.compose.service=product').filter((id) => id !== canaryId);
    assert.equal(stableIds.length, 1, 'the compose service runs one product container (v1)');
    // Async: a blocking `docker exec` would stall the steady load running in this process (see dockerAsync).
    const webId = containers('com.docker.compose.service=web')[0]!;
    const fromWeb = async (headers: string) =>
      (await dockerAsync('exec', webId, '/usr/local/bin/node', '-e', `fetch('http://product:8080/products',{headers:${headers}}).then(r=>r.json()).then(b=>console.log(b.replica))`)).stdout.trim();
    // Weight 0: plain calls never reach the canary, calls with the header always do. The header sent to web
    // (the front door) reaches product's canary one hop further: web's sidecar carries it to web's outbound
    // call of the same trace (the shop's apps forward trace context). Plain calls first: the tagged ones are
    // canary samples, and ten of them let the rollout leave the 0 % step.
    const viaWeb = async (headers: Record<string, string>) => {
      const res = await fetch(`http://127.0.0.1:${shop.webPort}/`, { headers, signal: AbortSignal.timeout(10_000) });
      return ((await res.json()) as { catalogue?: { replica?: string } }).catalogue?.replica;
    };
    for (let i = 0; i < 5; i++) assert.notEqual(await fromWeb('{}'), canaryHost);
    for (let i = 0; i < 5; i++) assert.notEqual(await viaWeb({}), canaryHost);
    for (let i = 0; i < 5; i++) assert.equal(await fromWeb(`{'x-canary':'1'}`), canaryHost);
    for (let i = 0; i < 5; i++) assert.equal(await viaWeb({ 'x-canary': '1' }), canaryHost);

    const set = await meshctl(['canary', 'set', 'product', '--weight', '30']);
    assert.equal(set.code, 0, set.stderr);
    await eventually(() => assert.ok(replicas.slice(-20).some((b) => b.catalogue?.replica === canaryHost)), { timeoutMs: 15_000, intervalMs: 200 });
    const from = replicas.length;
    await eventually(() => assert.ok(replicas.length >= from + 600), { timeoutMs: 120_000, intervalMs: 200 });
    const window = replicas.slice(from, from + 600).map((b) => b.catalogue?.replica);
    const share = window.filter((r) => r === canaryHost).length / window.length;
    assert.ok(Math.abs(share - 0.3) <= 0.05, `at 30 % the canary served ${(share * 100).toFixed(1)} %`);

    // Restart the controller mid-rollout: it comes back on the same manual step.
    const [controller] = containers('mesh.role=controller');
    assert.equal((await dockerAsync('restart', controller!)).status, 0);
    const back = await eventually(status, { timeoutMs: 60_000, intervalMs: 500 });
    assert.equal(back.state, 'progressing');
    assert.equal(back.weight, 30);
    assert.equal(back.manual, true);

    const resume = await meshctl(['canary', 'resume', 'product']);
    assert.equal(resume.code, 0, resume.stderr);
    const done = await eventually(
      async () => {
        const s = await status();
        assert.ok(s.state !== 'progressing', `${s.state} at ${s.weight}%: ${JSON.stringify(s.lastCheck)}`);
        return s;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    assert.equal(done.state, 'promoted', JSON.stringify(done));
    // Promotion retires v1: the compose service's own product container is stopped and removed, under load.
    const retired = await eventually(
      async () => {
        const s = await status();
        assert.equal(s.retirement?.state, 'done', JSON.stringify(s.retirement));
        return s;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    assert.equal(retired.retirement.containers, stableIds.length);
    assert.deepEqual(containers('com.docker.compose.service=product'), [canaryId], 'only the promoted canary runs');
    for (const id of stableIds) assert.notEqual(docker('inspect', id).status, 0, 'the stable container is removed');
    const last = replicas.length;
    await eventually(() => assert.ok(replicas.length >= last + 50), { timeoutMs: 30_000, intervalMs: 200 });
    for (let i = last + 10; i < replicas.length; i++) assert.equal(replicaAt(i), canaryHost, 'after promotion product answers from the canary only');
  } finally {
    await load.stop();
  }
  assert.ok(load.sent() > 500);
  // On failure, the rollout's events with their times say which phase the failed requests fell in.
  const events = async () => ((await status()).history as { at: number; event: string; detail?: string }[]).map((e) => `${new Date(e.at).toISOString()} ${e.event} ${e.detail ?? ''}`);
  assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.sent()} client requests failed; rollout events:\n${load.failures.length ? (await events()).join('\n') : ''}`);
});

test('a payment canary failing 20 % of charges is rolled back by itself; --wait exits 1; clients barely notice', { skip, timeout: 300_000 }, async () => {
  const load = steadyLoad('/buy?sku=mug', 'POST');
  try {
    const wait = meshctl(['canary', 'start', 'payment', '--image', canaryImage, '--version', 'v2', '--steps', '20,100', '--interval', '3s', '--min-requests', '10', '--wait']);
    // As soon as the canary container runs, make it fail one charge in five.
    const canary = await eventually(async () => {
      const [id] = containers('com.docker.compose.service=payment', 'mesh.canary=true');
      assert.ok(id);
      await paymentFaults(id, { failRate: 0.2, delayMs: 0 });
      return id;
    }, { timeoutMs: 90_000, intervalMs: 300 });
    const r = await wait;
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /reason: gate error-rate failed at 20%: error rate \d+\.\d% > 1\.0%/);
    assert.equal(docker('inspect', '-f', '{{.State.Running}}', canary).stdout.trim(), 'true', 'the rolled-back canary is kept');
  } finally {
    await load.stop();
  }
  // Order retries failed charges (mesh.config.ts), so the step weight × 20 % bounds what clients see, with margin.
  assert.ok(load.failures.length / load.sent() <= 0.2 * 0.2, `${load.failures.length} of ${load.sent()} client requests failed: ${load.failures.slice(0, 3)}`);
});

test('a slow payment canary fails the p99 gate; with no traffic a rollout holds on "insufficient samples"', { skip, timeout: 300_000 }, async () => {
  const [canary] = containers('com.docker.compose.service=payment', 'mesh.canary=true');
  assert.ok(canary, 'the canary kept from the previous test');
  await paymentFaults(canary!, { failRate: 0, delayMs: 300 });
  const load = steadyLoad('/buy?sku=mug', 'POST');
  try {
    const r = await meshctl(['canary', 'start', 'payment', '--version', 'v2', '--stable', 'v1', '--steps', '20,100', '--interval', '3s', '--min-requests', '10', '--max-p99', '150ms', '--wait']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    // The p99 gate alone fails: the step's window starts when its weights are in place, so nothing the
    // previous test's failing canary did is in it.
    assert.match(r.stdout, /reason: gate p99 failed at 20%: p99 \d+(\.\d+)? ms > 150 ms/);
  } finally {
    await load.stop();
  }
  assert.deepEqual(load.failures, [], 'a slow canary fails no request');

  await paymentFaults(canary!, { failRate: 0, delayMs: 0 });
  const quiet = await meshctl(['canary', 'start', 'payment', '--version', 'v2', '--stable', 'v1', '--interval', '1s']);
  assert.equal(quiet.code, 0, quiet.stderr);
  const held = await eventually(
    async () => {
      const s = JSON.parse((await meshctl(['canary', 'status', 'payment', '--json'])).stdout);
      assert.ok(s.history.filter((e: { event: string }) => e.event === 'hold').length >= 2, JSON.stringify(s.history));
      return s;
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  );
  assert.equal(held.state, 'progressing');
  assert.equal(held.weight, 5);
  assert.match(held.lastCheck.reasons.join(' '), /insufficient samples: \d+ of 20 requests to v2/);
  assert.equal((await meshctl(['canary', 'abort', 'payment'])).code, 0);
});

test('meshctl down removes the canary containers with the rest of the project', { skip, timeout: 120_000 }, async () => {
  assert.ok(containers('mesh.canary=true').length >= 2, 'the product and payment canaries still run');
  const down = await meshctl(['down']);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`).stdout.trim(), '');
});
