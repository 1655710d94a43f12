// Waits until the mesh has converged: every running sidecar is connected to
// the controller and has ACKed the snapshot the controller wants it to run,
// and discovery sees every running app container. Reports progress as it goes.
import type { ControllerClient } from '../controller-client.ts';
import { projectContainers } from './docker-facts.ts';

export interface SyncProgress {
  sidecars: number;
  inSync: number;
  apps: number;
  discoveredApps: number;
  /** Why it is not converged yet (last observation). */
  waitingFor: string[];
}

export interface WaitOptions {
  project: string;
  client: ControllerClient;
  timeoutMs: number;
  intervalMs?: number;
  onProgress?: (p: SyncProgress) => void;
}

const sameId = (a: string, b: string) => a.startsWith(b) || b.startsWith(a);

export async function observeSync(project: string, client: ControllerClient): Promise<SyncProgress> {
  const containers = projectContainers(project).filter((c) => c.state === 'running');
  const sidecars = containers.filter((c) => c.role === 'proxy');
  const apps = containers.filter((c) => c.role === 'app');
  const waitingFor: string[] = [];
  let proxies: Awaited<ReturnType<ControllerClient['proxies']>>['proxies'] = [];
  let endpoints: string[] = [];
  try {
    // Both at once: each look is on the path of `up`'s last step.
    const [p, s] = await Promise.all([client.proxies(), client.services()]);
    proxies = p.proxies;
    endpoints = s.services.flatMap((svc) => svc.endpoints.map((e) => e.id));
  } catch (err) {
    waitingFor.push(`controller: ${(err as Error).message.split('\n')[0]}`);
  }
  let inSync = 0;
  for (const s of sidecars) {
    const p = proxies.find((x) => sameId(x.proxyId, s.id));
    if (p?.connected && p.inSync && p.ack?.ok) inSync++;
    else if (!p?.connected) waitingFor.push(`${s.service} (${s.id}): not connected to the controller`);
    else if (p.ack && !p.ack.ok) waitingFor.push(`${s.service} (${s.id}): rejected its snapshot: ${p.ack.error ?? '?'}`);
    else waitingFor.push(`${s.service} (${s.id}): has not ACKed version ${p.desired?.version ?? '?'}`);
  }
  const discoveredApps = apps.filter((a) => endpoints.some((e) => sameId(e, a.id))).length;
  for (const a of apps) if (!endpoints.some((e) => sameId(e, a.id))) waitingFor.push(`${a.service} (${a.id}): not discovered yet`);
  if (!sidecars.length) waitingFor.push('no sidecar is running');
  return { sidecars: sidecars.length, inSync, apps: apps.length, discoveredApps, waitingFor };
}

/** Resolves with the last observation when converged; rejects with it (in .progress) on timeout. */
export async function waitForSync(opts: WaitOptions): Promise<SyncProgress> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: SyncProgress | undefined;
  for (;;) {
    last = await observeSync(opts.project, opts.client);
    opts.onProgress?.(last);
    if (!last.waitingFor.length) return last;
    if (Date.now() > deadline) {
      const err = new Error(`the mesh did not converge in ${Math.round(opts.timeoutMs / 1000)} s: ${last.inSync}/${last.sidecars} sidecars in sync`) as Error & { progress: SyncProgress };
      err.progress = last;
      throw err;
    }
    // 100 ms: each look is one `docker ps` and two local API calls (~0.2 s in all); the convergence this waits
    // for lands at any moment, and every wait here is added to `up` as a whole.
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}
