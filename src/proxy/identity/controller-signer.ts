// The proxy's way to its certificate in controller mode: POST the CSR to the
// controller's /v1/certs/sign, authenticated by the service token (MESH_TOKEN)
// when the sidecar has one, else by the bootstrap bearer token. The first
// certificate is awaited with backoff: a sidecar is not ready without one.
import { connect } from 'node:net';
import { MeshError } from '../../shared/errors.ts';
import type { SignRequest } from '../../shared/identity.ts';
import { WorkloadIdentity, type Signer } from './workload-identity.ts';

export interface ControllerSignerOptions {
  /** Controller base URL (http://controller:15010). */
  url: string;
  /** Bootstrap bearer token. */
  bearer?: string;
}

export function controllerSigner(opts: ControllerSignerOptions): Signer {
  const url = `${opts.url.replace(/\/+$/, '')}/v1/certs/sign`;
  return async (req: SignRequest) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(opts.bearer ? { authorization: `Bearer ${opts.bearer}` } : {}) },
      body: JSON.stringify(req),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => ({}))) as { error?: string; code?: string };
    if (res.status === 403) throw new MeshError('MESH_ERR_SIGN_UNAUTHORIZED', `the controller refused to sign for "${req.service}": ${body.error ?? res.status}`);
    if (!res.ok) throw new MeshError('MESH_ERR_IDENTITY_UNAVAILABLE', `the controller's CA answered ${res.status}: ${body.error ?? ''}`.trimEnd());
    return body;
  };
}

export interface ControllerIdentityOptions extends ControllerSignerOptions {
  service: string;
  /** Per-service sign token (MESH_TOKEN), when `meshctl up` generated one. */
  serviceToken?: string;
  /** This sidecar's proxy id (the id it subscribes with), for the CA's issued index. */
  proxyId?: string;
  log?: (fields: Record<string, unknown>) => void;
  /** Give up after this long (default: never; the sidecar stays unready meanwhile). */
  timeoutMs?: number;
}

/** Starts a WorkloadIdentity signed by the controller, retrying (0.2 s .. 5 s) until the CA answers. */
export async function identityFromController(opts: ControllerIdentityOptions): Promise<WorkloadIdentity> {
  const signer = controllerSigner(opts);
  const log = opts.log ?? (() => {});
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const id = await WorkloadIdentity.start({
        service: opts.service,
        signer,
        token: opts.serviceToken,
        proxyId: opts.proxyId,
        onError: (err) => log({ msg: 'certificate renewal failed; keeping the current one', error: err.message }),
      });
      const m = id.current();
      log({ msg: 'certificate issued', spiffeId: m.spiffeId, serial: m.serial, notAfter: m.notAfter.toISOString() });
      id.onRotate((r) => log({ msg: 'certificate rotated', serial: r.serial, notAfter: r.notAfter.toISOString() }));
      return id;
    } catch (err) {
      if (err instanceof MeshError && err.code === 'MESH_ERR_SIGN_UNAUTHORIZED') throw err; // retrying will not help
      if (Date.now() >= deadline) throw err;
      log({ msg: 'waiting for the controller to sign a certificate', error: (err as Error).message });
      // Short first: at `meshctl up` the controller starts alongside its sidecars, and each wasted second delays the whole project.
      await untilListening(opts.url, Math.min(200 * 2 ** attempt, 5_000));
    }
  }
}

/**
 * Waits `ms`, or less when nobody listened at the controller's address and then someone does: a TCP
 * connect every 0.1 s (no key, CSR or request per try), so a sidecar that started before its controller
 * asks again as soon as the controller listens, not up to a backoff step later.
 */
async function untilListening(url: string, ms: number): Promise<void> {
  const u = new URL(url);
  const port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const until = Date.now() + ms;
  const open = () =>
    new Promise<boolean>((resolve) => {
      const s = connect({ host, port, timeout: 1000 });
      const done = (ok: boolean) => (s.destroy(), resolve(ok));
      s.once('connect', () => done(true)).once('error', () => done(false)).once('timeout', () => done(false));
    });
  // Someone listens already (the failure was something else): the full wait.
  if (await open()) return void (await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()))));
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, Math.min(100, Math.max(0, until - Date.now()))));
    if (await open()) return;
  }
}
