// The shop example meshed with `meshctl up` on the real engine and compose:
// requests cross web → order → inventory and payment through the sidecars,
// apps cannot bypass the mesh, host traffic enters it, logs stay the apps',
// scaling spreads load, recreating a service under load heals, and
// `meshctl down` leaves nothing behind. One project per run, from a copy of
// examples/shop, with the image built once under a tag of its own.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCompose } from '../../src/cli/compose/run-compose.ts';
import { findCompose } from '../../src/cli/compose/compose-cli.ts';
import { freePort } from '../../src/cli/up/host-ports.ts';
import { eventually } from '../harness/eventually.ts';
import { docker, shopProject, skipWithoutDocker } from '../harness/shop-project.ts';

const shop = shopProject('shope2e');
const { project, dir, image, meshctl } = shop;
const skip = skipWithoutDocker;
const cli = findCompose();
const files = [join(dir, '.mesh', 'compose.yaml')];
let upSeconds = 0;

const ids = (service: string) =>
  docker('ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`).stdout.split('\n').filter(Boolean);
const one = (service: string) => {
  const [id] = ids(service);
  assert.ok(id, `${service} is running`);
  return id;
};
/** Runs a node snippet inside a container (the image has no shell). */
function nodeIn(container: string, script: string): string {
  const r = docker('exec', container, '/usr/local/bin/node', '-e', script);
  assert.equal(r.status, 0, `node in ${container}: ${r.stderr}`);
  return r.stdout.trim();
}
const buy = async (sku = 'mug') => {
  const res = await fetch(`http://127.0.0.1:${shop.webPort}/buy?sku=${sku}`, { method: 'POST', signal: AbortSignal.timeout(15_000) });
  return { status: res.status, body: (await res.json()) as any };
};
/** Sum of the proxy's inbound HTTP request counters, from its admin /metrics. */
const inboundRequests = (sidecar: string) =>
  [...nodeIn(sidecar, "fetch('http://127.0.0.1:15000/metrics').then(r=>r.text()).then(t=>console.log(t))").matchAll(/^\S*requests_total\{[^}]*direction="inbound"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);

before(async () => {
  if (skip) return;
  const up = await shop.up();
  upSeconds = up.seconds;
  assert.equal(up.code, 0, `meshctl up failed:\n${up.stderr}`);
});

after(async () => {
  if (!skip) await shop.down();
});

test('a request through web reaches order, which calls inventory and payment, each hop through a sidecar', { skip }, async (t) => {
  const r = await buy('tee');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.body.servedBy, /^order\//);
  assert.equal(r.body.order.inventory.reserved, 1);
  assert.match(r.body.order.inventory.servedBy, /^inventory\//);
  assert.equal(r.body.order.payment.charged, true);
  assert.match(r.body.order.payment.servedBy, /^payment\//);
  // order's sidecar logged both outbound calls; inventory's and payment's sidecars the inbound ones.
  const logs = (c: string) => docker('logs', one(c)).stdout;
  const orderOut = logs('order-mesh').split('\n').filter((l) => l.includes(`"trace_id"`) && l.includes('"direction":"outbound"'));
  assert.ok(orderOut.some((l) => l.includes('"destination":"inventory"') && l.includes('"path":"/reserve"')), 'order-mesh logged the call to inventory');
  assert.ok(orderOut.some((l) => l.includes('"destination":"payment"') && l.includes('"path":"/charge"')), 'order-mesh logged the call to payment');
  assert.match(logs('inventory-mesh'), /"direction":"inbound".*"path":"\/reserve"/);
  assert.match(logs('payment-mesh'), /"direction":"inbound".*"path":"\/charge"/);
  t.diagnostic(`meshctl up (shop, image already built): ${upSeconds.toFixed(1)} s`);
});

test('from inside order, payment\'s app container cannot be reached directly, but http://payment:8080 works through the mesh', { skip }, () => {
  const order = one('order');
  const payment = one('payment');
  const nets = JSON.parse(docker('inspect', '-f', '{{json .NetworkSettings.Networks}}', payment).stdout) as Record<string, { IPAddress: string }>;
  assert.deepEqual(Object.keys(nets), [`${project}_payment-net`]);
  const ip = nets[`${project}_payment-net`]!.IPAddress;
  const direct = nodeIn(order, `const s=require('net').connect(8080,'${ip}');s.setTimeout(3000,()=>{console.log('timeout');process.exit(0)});s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)})`);
  assert.notEqual(direct, 'connected', `order reached payment's app at ${ip} directly`);
  const through = JSON.parse(nodeIn(order, "fetch('http://payment:8080/admin/faults').then(async r=>console.log(JSON.stringify({status:r.status,by:r.headers.get('x-served-by')})),e=>console.log(JSON.stringify({error:String(e.cause??e)})))"));
  assert.equal(through.status, 200, JSON.stringify(through));
  assert.match(through.by, /^payment\//);
});

test('sidecar-to-sidecar is mTLS: payment\'s inbound port refuses a plaintext client on the mesh network', { skip }, () => {
  // The controller container sits on the mesh network and holds no certificate: a plaintext client.
  const probe = one('mesh-controller');
  const nets = JSON.parse(docker('inspect', '-f', '{{json .NetworkSettings.Networks}}', one('payment-mesh')).stdout) as Record<string, { IPAddress: string }>;
  const ip = nets[`${project}-mesh`]!.IPAddress;
  const plain = JSON.parse(nodeIn(probe, `fetch('http://${ip}:8080/admin/faults',{signal:AbortSignal.timeout(5000)}).then(async r=>console.log(JSON.stringify({status:r.status})),e=>console.log(JSON.stringify({error:String(e.cause?.code??e.cause??e)})))`));
  assert.equal(plain.status, undefined, `a plaintext request reached payment: ${JSON.stringify(plain)}`);
  assert.ok(plain.error, 'the plaintext connection was refused or closed');
});

test('host traffic to web\'s published port passes through web\'s sidecar and shows in its metrics', { skip }, async () => {
  const sidecar = one('web-mesh');
  assert.equal(docker('port', one('web')).stdout.trim(), '', 'the app publishes nothing itself');
  const before = inboundRequests(sidecar);
  for (let i = 0; i < 5; i++) assert.equal((await fetch(`http://127.0.0.1:${shop.webPort}/healthz`)).status, 200);
  await eventually(() => assert.ok(inboundRequests(sidecar) >= before + 5, `inbound requests went from ${before} to ${inboundRequests(sidecar)}`), { timeoutMs: 10_000, intervalMs: 200 });
});

test('meshctl tap order shows the orders web places through order\'s sidecar, live, and stops at --max', { skip }, async (t) => {
  const t0 = Date.now();
  const tap = meshctl(['tap', 'order', '--method', 'POST', '--path', '/orders', '--max', '2', '--json']);
  let done = false;
  void tap.then(() => (done = true));
  // The stream reaches the sidecar just after the CLI starts: buy until it has its two.
  const buys: string[] = [];
  await eventually(async () => {
    if (!done) {
      const b0 = Date.now();
      const status = (await buy()).status;
      buys.push(`${status} at ${((b0 - t0) / 1000).toFixed(1)}s in ${Date.now() - b0}ms`);
    }
    assert.ok(done);
  }, { timeoutMs: 60_000, intervalMs: 200 });
  t.diagnostic(`tap exited after ${((Date.now() - t0) / 1000).toFixed(1)}s; buys: ${buys.join(', ')}`);
  const r = await tap;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /tapping order through 1 sidecar/);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2, r.stdout);
  for (const l of lines) {
    assert.deepEqual([l.direction, l.source, l.destination, l.method, l.path, l.status], ['inbound', 'web', 'order', 'POST', '/orders', 200]);
    assert.match(l.traceId, /^[0-9a-f]{32}$/);
  }
});

test('`compose logs order` on the generated file still shows the app\'s own logs', { skip }, async () => {
  const logs = await runCompose(cli!, { files, project }, ['logs', '--no-color', 'order']);
  assert.match(logs.stdout, /order listening on :8080/);
  assert.match(logs.stdout, /order POST \/orders -> 200/);
});

test('meshctl status and doctor report every proxy in sync; up again (nothing changed) reports payment\'s mTLS as strict', { skip }, async () => {
  const s = await shop.assertAllInSync();
  const table = JSON.parse((await meshctl(['up', '-p', project, '--image', image, '--no-build', '--json'], { SHOP_PORT: String(shop.webPort) })).stdout);
  assert.equal(table.services.find((x: any) => x.service === 'payment').mtls, 'strict');
  assert.deepEqual(s.portsUnknown, []);
  assert.deepEqual(s.certificates.map((c: any) => c.service), ['inventory', 'order', 'payment', 'product', 'web']);
  for (const c of s.certificates) assert.ok(c.expiresInMs > 0, `${c.service}'s certificate is valid`);
  const doctor = await meshctl(['doctor', '--image', image]);
  assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
  assert.match(doctor.stdout, /ok +clock \(host vs Docker\)/);
});

// Retries are the proxy's (src/proxy/filters); until a retry filter exists this test is reported as todo, not hidden.
test('payment failing 30% of requests is invisible to the client: order\'s sidecar retries (mesh.config.ts)', { skip }, async (t) => {
  const order = one('order');
  const setFaults = (failRate: number) =>
    JSON.parse(nodeIn(order, `fetch('http://payment:8080/admin/faults',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({failRate:${failRate}})}).then(r=>r.text()).then(console.log)`));
  assert.equal(setFaults(0.3).failRate, 0.3);
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await buy()).status);
    const stats = JSON.parse(nodeIn(order, "fetch('http://payment:8080/admin/faults').then(r=>r.text()).then(console.log)"));
    t.diagnostic(`payment failed ${stats.failed} charges; the client saw ${statuses.filter((s) => s !== 200).length} errors in 40 orders`);
    assert.ok(stats.failed > 0, 'payment did fail some charges');
    assert.deepEqual(statuses.filter((s) => s !== 200), []);
  } finally {
    setFaults(0);
  }
});

test('meshctl top --once --json under steady load matches what the load generator measured', { skip }, async (t) => {
  // Steady load: every 100 ms a GET / (answered 200) and a POST /buy that fails for sure, because
  // every payment charge fails (failRate 1) and order's retries cannot save it. So the client sees
  // 20 req/s at web with exactly half failing, and payment's own success rate is exactly 0.
  const order = one('order');
  const setFailRate = (rate: number) =>
    nodeIn(order, `fetch('http://payment:8080/admin/faults',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({failRate:${rate}})}).then(r=>r.text()).then(console.log)`);
  setFailRate(1);
  // Open loop: a pair starts every 100 ms whatever the answers do, so the rate is steady even
  // while a failing order takes its retries; each answer is counted when it arrives.
  const done: { at: number; ok: boolean }[] = [];
  const inFlight = new Set<Promise<void>>();
  const track = (p: Promise<number>) => {
    const q = p.then((status) => void done.push({ at: Date.now(), ok: status === 200 }), () => void done.push({ at: Date.now(), ok: false }));
    inFlight.add(q);
    void q.finally(() => inFlight.delete(q));
  };
  const timer = setInterval(() => {
    track(fetch(`http://127.0.0.1:${shop.webPort}/`, { signal: AbortSignal.timeout(15_000) }).then(async (r) => (await r.arrayBuffer(), r.status)));
    track(buy().then((r) => r.status));
  }, 100);
  const load = { stop: async () => (clearInterval(timer), await Promise.all([...inFlight])) };
  try {
    // The controller's window is the last 5 s of 1 s scrapes: let it fill with this load only.
    await new Promise((r) => setTimeout(r, 8000));
    const asked = Date.now();
    const r = await meshctl(['top', '--once', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout);
    const svc = (name: string) => d.metrics.services.find((s: { service: string }) => s.service === name);
    // What the client measured over the same 5 s before the question.
    const recent = done.filter((s) => s.at >= asked - 5000 && s.at < asked);
    const clientRps = recent.length / 5;
    const clientFailed = recent.filter((s) => !s.ok).length / recent.length;
    const web = svc('web');
    t.diagnostic(`client: ${clientRps.toFixed(1)} req/s answered, ${recent.filter((s) => !s.ok).length}/${recent.length} failed; top: web ${web?.rps} req/s, success ${web?.successRate}; payment success ${svc('payment')?.successRate}`);
    assert.ok(web, JSON.stringify(d.metrics.services));
    assert.ok(Math.abs(clientFailed - 0.5) <= 2 / recent.length, `the client saw half fail (${clientFailed})`);
    assert.ok(Math.abs(web.rps - clientRps) <= 0.1 * clientRps, `web ${web.rps} req/s vs the client's ${clientRps}`);
    // Exact: every charge failed, so payment's success rate is 0 whatever the window's edges.
    assert.equal(svc('payment').successRate, 0);
    // Web's share is the client's half, give or take the one pair a scrape can cut in two.
    const pairs = (web.rps * 5) / 2;
    assert.ok(Math.abs(web.successRate - 0.5) <= 1 / pairs, `web success ${web.successRate}, the client's 0.5`);
  } finally {
    await load.stop();
    setFailRate(0);
  }
});

test('--scale inventory=3: meshctl up again converges and order\'s calls spread over the three replicas', { skip }, async (t) => {
  const up = await meshctl(['up', '-p', project, '--image', image, '--no-build', '--scale', 'inventory=3', '--json'], { SHOP_PORT: String(shop.webPort) });
  assert.equal(up.code, 0, up.stderr);
  const summary = JSON.parse(up.stdout);
  assert.equal(summary.services.find((s: any) => s.service === 'inventory').replicas, 3);
  assert.equal(ids('inventory').length, 3);
  // Six clients at a time: the default balancer (peak EWMA) weighs in-flight requests, so
  // concurrent load spreads; one client in sequence would stick to the fastest replica.
  const seen = new Map<string, number>();
  for (let batch = 0; batch < 10; batch++) {
    for (const r of await Promise.all(Array.from({ length: 6 }, () => buy()))) {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const rep = r.body.order.inventory.replica as string;
      seen.set(rep, (seen.get(rep) ?? 0) + 1);
    }
  }
  t.diagnostic(`inventory replicas served: ${JSON.stringify(Object.fromEntries(seen))}`);
  assert.equal(seen.size, 3, 'every replica served some of the 60 orders');
});

test('`compose up -d --force-recreate inventory` under steady load: errors stop after a bounded time', { skip }, async (t) => {
  const results: { at: number; ok: boolean }[] = [];
  let stop = false;
  const load = (async () => {
    while (!stop) {
      const at = Date.now();
      const ok = await buy().then((r) => r.status === 200, () => false);
      results.push({ at, ok });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    await eventually(() => assert.ok(results.length >= 10), { timeoutMs: 20_000, intervalMs: 100 });
    const started = Date.now();
    await runCompose(cli!, { files, project }, ['up', '-d', '--force-recreate', '--scale', 'inventory=3', 'inventory']);
    const recreated = Date.now();
    // Healed: 30 consecutive successes, reached within 60 s of compose returning.
    await eventually(
      () => {
        const tail = results.slice(-30);
        assert.ok(tail.length === 30 && tail.every((r) => r.ok) && tail[0]!.at > recreated, 'the last 30 orders succeeded');
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const failed = results.filter((r) => !r.ok && r.at >= started);
    const window = failed.length ? failed.at(-1)!.at - failed[0]!.at : 0;
    t.diagnostic(`${results.length} orders during the recreate, ${failed.length} failed, over ${window} ms (compose took ${recreated - started} ms)`);
  } finally {
    stop = true;
    await load;
  }
});

test('plain docker-compose up on the same file, for comparison (printed, not asserted)', { skip }, async (t) => {
  const plain = `${project}plain`;
  const run = { files: [join(dir, 'compose.yaml')], project: plain, env: { SHOP_PORT: String(await freePort()), MESH_IMAGE: image } };
  const t0 = Date.now();
  try {
    await runCompose(cli!, run, ['up', '-d']);
    t.diagnostic(`shop startup: meshctl up ${upSeconds.toFixed(1)} s (image already built) vs plain ${cli!.command.join(' ')} up -d ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await runCompose(cli!, run, ['down', '-v', '-t', '1']).catch(() => {});
  }
});

test('meshctl down leaves no container or network of the project behind', { skip }, async () => {
  const down = await meshctl(['down', '-v']);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`).stdout.trim(), '');
  assert.equal(docker('network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`).stdout.trim(), '');
  assert.equal(docker('network', 'ls', '-q', '--filter', `name=${project}`).stdout.trim(), '');
});
