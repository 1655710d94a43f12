// The proxy's rotation scheduler, driven by a fake clock: renewal at two
// thirds of the lifetime, backoff on CA failures while the old leaf stays in
// use, trust bundle updates, and stop on close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertAuthority } from '../../../src/controller/certs/cert-authority.ts';
import { WorkloadIdentity, type Signer } from '../../../src/proxy/identity/workload-identity.ts';
import type { Clock } from '../../../src/proxy/identity/clock.ts';
import type { SignRequest } from '../../../src/shared/identity.ts';
import { eventually } from '../../harness/eventually.ts';

class FakeClock implements Clock {
  t = Date.UTC(2030, 0, 1);
  timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  /** The delay of the one pending timer. */
  pending(): number[] {
    return [...this.timers.values()].map((x) => x.at - this.t);
  }
  advance(ms: number): void {
    this.t += ms;
    for (const [id, x] of [...this.timers]) {
      if (x.at <= this.t) {
        this.timers.delete(id);
        x.fn();
      }
    }
  }
}

async function setup(t: { after(fn: () => unknown): void }, leafTtlMs = 9000) {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-wi-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const clock = new FakeClock();
  const ca = await CertAuthority.open({ stateDir: dir, project: 'shop', now: () => clock.now(), leafTtlMs });
  const calls: SignRequest[] = [];
  let failing = false;
  const signer: Signer = async (req) => {
    calls.push(req);
    if (failing) throw new Error('controller unreachable');
    return ca.sign(req);
  };
  return { clock, ca, calls, signer, fail: (v: boolean) => (failing = v) };
}

test('renews at two thirds of the lifetime, with a new key each time', async (t) => {
  const { clock, calls, signer } = await setup(t);
  const id = await WorkloadIdentity.start({ service: 'orders', signer, clock });
  t.after(() => id.close());
  const first = id.current();
  assert.equal(first.spiffeId, 'spiffe://mesh.local/compose/shop/svc/orders');
  assert.deepEqual(clock.pending(), [6000]);
  const rotated: string[] = [];
  id.onRotate((m) => rotated.push(m.serial));

  clock.advance(5999);
  assert.equal(calls.length, 1, 'not yet');
  clock.advance(1);
  await eventually(() => assert.equal(rotated.length, 1));
  const second = id.current();
  assert.notEqual(second.serial, first.serial);
  assert.notEqual(second.keyPem, first.keyPem, 'a new key per rotation');
  assert.notEqual(calls[1]!.csrPem, calls[0]!.csrPem);
  assert.equal(calls[1]!.service, 'orders');
  assert.deepEqual(clock.pending(), [6000]);
});

test('a failing CA keeps the current leaf and retries with backoff until it answers', async (t) => {
  const { clock, calls, signer, fail } = await setup(t);
  const errors: string[] = [];
  const id = await WorkloadIdentity.start({ service: 'orders', signer, clock, retryMinMs: 100, retryMaxMs: 400, onError: (e) => errors.push(e.message) });
  t.after(() => id.close());
  const first = id.current().serial;
  fail(true);
  clock.advance(6000);
  await eventually(() => assert.deepEqual(clock.pending(), [100]));
  assert.equal(id.current().serial, first, 'still serving the old leaf');
  clock.advance(100);
  await eventually(() => assert.deepEqual(clock.pending(), [200]));
  clock.advance(200);
  await eventually(() => assert.deepEqual(clock.pending(), [400]));
  clock.advance(400);
  await eventually(() => assert.equal(errors.length, 4));
  assert.deepEqual(clock.pending(), [400], 'backoff is capped');
  assert.match(errors[0]!, /controller unreachable/);
  fail(false);
  clock.advance(400);
  await eventually(() => assert.notEqual(id.current().serial, first));
  assert.equal(calls.length, 6);
  // Two thirds of what is left; the CA rounds notAfter up to a whole second.
  const [next] = clock.pending();
  assert.ok(next! >= 6000 && next! < 6700, `next renewal in ${next} ms`);
});

test('an answer that is not a sign response is refused', async (t) => {
  const { clock } = await setup(t);
  await assert.rejects(
    WorkloadIdentity.start({ service: 'orders', signer: async () => ({ certChainPem: 'nope' }), clock }),
    /expected a PEM CERTIFICATE/,
  );
});

test('first issue failing rejects start()', async (t) => {
  const { clock, signer, fail } = await setup(t);
  fail(true);
  await assert.rejects(WorkloadIdentity.start({ service: 'orders', signer, clock }), /controller unreachable/);
  assert.deepEqual(clock.pending(), [], 'no retries left running');
});

test('concurrent renewals share one CSR; an identical trust bundle touches nothing', async (t) => {
  const { clock, ca, calls, signer } = await setup(t);
  const id = await WorkloadIdentity.start({ service: 'orders', signer, clock });
  t.after(() => id.close());
  const [a, b] = await Promise.all([id.renewNow(), id.renewNow()]);
  assert.equal(a, b);
  assert.equal(calls.length, 2);
  let rotations = 0;
  id.onRotate(() => rotations++);
  id.updateTrustBundle(id.current().trustBundlePem);
  assert.equal(rotations, 0);
  await ca.rotateRoot();
  id.updateTrustBundle(ca.trustBundlePem());
  assert.equal(rotations, 1);
  assert.equal(id.current().trustBundlePem, ca.trustBundlePem());
});

test('close() stops renewal', async (t) => {
  const { clock, calls, signer } = await setup(t);
  const id = await WorkloadIdentity.start({ service: 'orders', signer, clock });
  id.close();
  assert.deepEqual(clock.pending(), []);
  clock.advance(60_000);
  assert.equal(calls.length, 1);
});

test('a leaf expired on arrival (the CA clock lags) is kept, reported with both clocks, and retried with backoff, not at once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-wi-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const clock = new FakeClock();
  // The CA's clock is two days behind ours: its 1 h leaf expired yesterday by our clock.
  const ca = await CertAuthority.open({ stateDir: dir, project: 'shop', now: () => clock.now() - 48 * 3600_000, leafTtlMs: 3600_000 });
  const errors: Error[] = [];
  const id = await WorkloadIdentity.start({ service: 'orders', signer: (r) => ca.sign(r), clock, onError: (e) => errors.push(e) });
  t.after(() => id.close());
  assert.ok(id.current().notAfter.getTime() < clock.now());
  assert.equal((errors[0] as Error & { code?: string }).code, 'MESH_ERR_CERT_EXPIRED');
  assert.match(errors[0]!.message, /local clock is/);
  assert.deepEqual(clock.pending(), [1000], 'backoff, not a tight loop');
  clock.advance(1000);
  await eventually(() => assert.deepEqual(clock.pending(), [2000]));
});
