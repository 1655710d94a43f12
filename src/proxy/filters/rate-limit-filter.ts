// Local rate limiting: a token bucket per listener (shared by its routes) and
// per route, optionally one per source identity or header value. Over the
// limit: 429 `rate-limited` with retry-after, nothing sent upstream.
import type { Filter } from './filter.ts';
import type { Exchange } from '../http/exchange.ts';
import type { RateLimitPolicy } from '../../shared/policies.ts';
import type { z } from 'zod';
import type { CompiledListener } from '../runtime/compiled-listener.ts';
import { KeyedBuckets } from './token-bucket.ts';
import { sendProxyError } from '../http/send-proxy-error.ts';
import { resilienceStats } from '../telemetry/resilience-stats.ts';

type Policy = z.infer<typeof RateLimitPolicy>;

export interface Limiter {
  scope: 'listener' | 'route';
  name: string;
  policy: Policy;
  buckets: KeyedBuckets;
}

function limiter(scope: Limiter['scope'], name: string, policy: Policy): Limiter {
  return { scope, name, policy, buckets: new KeyedBuckets(policy.requestsPerSecond, policy.burst ?? Math.max(1, Math.ceil(policy.requestsPerSecond))) };
}

// The listener's bucket is shared by all its routes: one per compiled listener.
const listenerLimiters = new WeakMap<CompiledListener, Limiter>();

/** The listener's limiter, shared by its HTTP routes and its opaque TCP connections (one token per connection). */
export function listenerLimiter(listener: CompiledListener): Limiter | undefined {
  const lp = listener.spec.rateLimit;
  if (lp === undefined) return undefined;
  let l = listenerLimiters.get(listener);
  if (l === undefined) {
    l = limiter('listener', listener.name, lp);
    listenerLimiters.set(listener, l);
  }
  return l;
}

function keyOf(ex: Exchange, key: Policy['key']): string {
  if (key === 'none') return '';
  if (key === 'source') return ex.peer?.spiffeId ?? ex.req.socket?.remoteAddress ?? '';
  const v = ex.req.headers[key.header.toLowerCase()];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

export const rateLimitFilter: Filter = (next, ctx) => {
  const limiters: Limiter[] = [];
  const ll = listenerLimiter(ctx.listener);
  if (ll !== undefined) limiters.push(ll);
  const rp = ctx.route.spec.rateLimit;
  if (rp !== undefined) limiters.push(limiter('route', ctx.route.name, rp));
  if (limiters.length === 0) return next;
  const l = ctx.listener;
  const route = ctx.route.name;
  return (ex) => {
    const now = Date.now();
    for (const lim of limiters) {
      const wait = lim.buckets.take(keyOf(ex, lim.policy.key), now);
      if (wait === 0) continue;
      if (ex.telemetry !== undefined) resilienceStats(ex.telemetry).rate_limited_total.with(l.direction, l.name, route, lim.scope).value++;
      sendProxyError(ex, 'rate-limited', `${lim.scope} ${lim.name} ${lim.policy.requestsPerSecond}/s`, { headers: { 'retry-after': String(Math.max(1, Math.ceil(wait))) } });
      return;
    }
    next(ex);
  };
};
