// Fault injection (chaos testing): delay and/or abort a percentage of requests,
// optionally only those carrying a header. Abort answers an HTTP status, a
// gRPC status (trailers-only), or resets the client's connection. The route's
// policy wins over the listener's.
import http2 from 'node:http2';
import type { Filter } from './filter.ts';
import type { Exchange } from '../http/exchange.ts';
import type { FaultPolicy } from '../../shared/policies.ts';
import type { z } from 'zod';
import { sendProxyError } from '../http/send-proxy-error.ts';
import { resilienceStats } from '../telemetry/resilience-stats.ts';

type Policy = z.infer<typeof FaultPolicy>;

/** Whether a fault applies to a request with these headers (the policy's optional header match). */
export function faultMatches(policy: Policy, headers: Record<string, string | string[] | undefined>): boolean {
  const h = policy.header;
  if (h === undefined) return true;
  const v = headers[h.name.toLowerCase()];
  if (v === undefined) return false;
  return h.value === undefined || (Array.isArray(v) ? v.includes(h.value) : v === h.value);
}

function abort(ex: Exchange, policy: NonNullable<Policy['abort']>, route: string): void {
  const detail = `abort ${route}`;
  ex.error = `fault-injected ${detail}`;
  if (policy.tcpReset) {
    if (ex.http2) (ex.req as import('../listeners/h2-stream-exchange.ts').H2StreamRequest).stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    else ((ex.socket ?? ex.req.socket) as import('node:net').Socket).resetAndDestroy();
    return;
  }
  const res = ex.res;
  if (policy.grpcStatus !== undefined && res !== undefined) {
    // Trailers-only gRPC response: status 200, grpc-status in the head.
    ex.status = 200;
    ex.ended = true;
    (res as import('node:http').ServerResponse).writeHead(200, {
      'content-type': 'application/grpc',
      'grpc-status': String(policy.grpcStatus),
      'grpc-message': 'fault-injected',
      'x-mesh-error': ex.error,
    });
    res.end();
    return;
  }
  sendProxyError(ex, 'fault-injected', detail, { status: policy.httpStatus ?? 503 });
}

export const faultFilter: Filter = (next, ctx) => {
  const policy = ctx.route.spec.fault ?? ctx.listener.spec.fault;
  if (policy === undefined || (policy.delay === undefined && policy.abort === undefined)) return next;
  const l = ctx.listener;
  const route = ctx.route.name;
  const count = (ex: Exchange, kind: string): void => {
    if (ex.telemetry !== undefined) resilienceStats(ex.telemetry).faults_injected_total.with(l.direction, l.name, route, kind).value++;
  };
  const afterDelay = (ex: Exchange): void => {
    if (ex.done) return;
    const a = policy.abort;
    if (a !== undefined && Math.random() * 100 < a.percent) {
      count(ex, a.tcpReset ? 'reset' : 'abort');
      abort(ex, a, route);
      return;
    }
    next(ex);
  };
  return (ex) => {
    if (!faultMatches(policy, ex.req.headers as Record<string, string | string[] | undefined>)) {
      next(ex);
      return;
    }
    const d = policy.delay;
    if (d !== undefined && Math.random() * 100 < d.percent) {
      count(ex, 'delay');
      setTimeout(afterDelay, d.ms, ex);
      return;
    }
    afterDelay(ex);
  };
};
