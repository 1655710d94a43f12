// `meshctl canary ...`: calls the controller's /v1/canary routes and prints
// the rollout. With --wait, follows it until it ends: exit 0 on promotion,
// 1 on rollback or abort.
import { setTimeout as sleep } from 'node:timers/promises';
import { ControllerClient } from '../controller-client.ts';
import { CanaryList, CanaryStatus } from '../../shared/canary.ts';
import { buildStartBody, type StartFlags } from './parse-canary-options.ts';
import { formatEvent, formatLive, formatRollout } from './format-rollout.ts';

export type ClientFlags = { controller?: string; token?: string; json?: boolean };
type Out = NodeJS.WritableStream;

function connect(f: ClientFlags) {
  return ControllerClient.connect({ url: f.controller, token: f.token });
}
const path = (service: string, action = '') => `/v1/canary/${encodeURIComponent(service)}${action ? `/${action}` : ''}`;

function print(out: Out, s: CanaryStatus, json?: boolean) {
  out.write(json ? JSON.stringify(s, null, 2) + '\n' : formatRollout(s));
}

export async function runCanaryStart(service: string, flags: StartFlags & ClientFlags & { wait?: boolean }, out: Out = process.stdout): Promise<number> {
  const body = buildStartBody(service, flags);
  const client = await connect(flags);
  const s = await client.call('POST', '/v1/canary', CanaryStatus, body);
  if (!flags.wait) {
    print(out, s, flags.json);
    return 0;
  }
  return follow(client, s, out);
}

/** Prints each new event until the rollout ends; the exit code says how it ended. */
async function follow(client: ControllerClient, first: CanaryStatus, out: Out): Promise<number> {
  let shown = 0;
  let s = first;
  for (;;) {
    for (const e of s.history.slice(shown)) out.write(formatEvent(e, s.startedAt));
    shown = s.history.length;
    if (s.state === 'promoted' || s.state === 'rolled-back' || s.state === 'aborted') {
      out.write(formatRollout(s));
      return s.state === 'promoted' ? 0 : 1;
    }
    await sleep(Math.min(1000, Math.max(100, s.intervalMs / 4)));
    s = await client.call('GET', path(s.service), CanaryStatus);
    // History is capped; after a long hold, show from the newest kept events.
    if (s.history.length < shown) shown = 0;
  }
}

export async function runCanaryStatus(service: string | undefined, flags: ClientFlags, out: Out = process.stdout): Promise<void> {
  const client = await connect(flags);
  if (service) {
    const s = await client.call('GET', path(service), CanaryStatus);
    if (flags.json) return print(out, s, true);
    // The live per-version figures (last seconds) under the rollout; older controllers have none.
    const live = await client.metrics().then((m) => (m.versions ?? []).filter((v) => v.service === service), () => []);
    return void out.write(formatRollout(s) + formatLive(live));
  }
  const list = await client.call('GET', '/v1/canary', CanaryList);
  if (flags.json) return void out.write(JSON.stringify(list, null, 2) + '\n');
  out.write(list.rollouts.length ? list.rollouts.map((s) => formatRollout(s)).join('\n') : 'no rollouts\n');
}

export async function runCanaryAction(service: string, action: 'promote' | 'abort' | 'pause' | 'resume', flags: ClientFlags, out: Out = process.stdout): Promise<void> {
  const client = await connect(flags);
  print(out, await client.call('POST', path(service, action), CanaryStatus, {}), flags.json);
}

export async function runCanarySet(service: string, weight: number, flags: ClientFlags, out: Out = process.stdout): Promise<void> {
  const client = await connect(flags);
  print(out, await client.call('PUT', path(service, 'weight'), CanaryStatus, { weight }), flags.json);
}
