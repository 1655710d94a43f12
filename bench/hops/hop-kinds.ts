// Hop kinds by name: a scenario lists kinds, the chain builder looks them up here.
import type { HopContext, HopSpec, StartedHop } from './hop.ts';
import { startMeshctlHop } from './meshctl.ts';
import { startHaproxyHop } from './haproxy.ts';
import { startNodeHttpProxyHop } from './node-http-proxy.ts';

export const hopKinds: Record<HopSpec['kind'], (ctx: HopContext) => Promise<StartedHop>> = {
  'meshctl-http': (ctx) => startMeshctlHop(ctx, 'http'),
  'meshctl-tcp': (ctx) => startMeshctlHop(ctx, 'tcp'),
  'haproxy-http': (ctx) => startHaproxyHop(ctx, 'http'),
  'haproxy-tcp': (ctx) => startHaproxyHop(ctx, 'tcp'),
  'node-http-proxy': (ctx) => startNodeHttpProxyHop(ctx),
};
