// Propagates W3C traceparent/tracestate and B3 unchanged, and starts a trace
// (new traceparent) for a request that carries none. With span export on
// (telemetry.tracing.otlpEndpoint) each hop is a span whose id replaces the
// parent id in the traceparent it sends on (telemetry/span-context.ts).
import type { Filter, Handler } from './filter.ts';
import { traceContext } from '../telemetry/trace-context.ts';
import { spanningHandler } from '../telemetry/span-context.ts';

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export const traceContextFilter: Filter = (next, ctx) => {
  const tracing = ctx.snapshot.telemetry.tracing;
  if (tracing.otlpEndpoint !== undefined) return spanningHandler(next, tracing.sampleRate);
  return propagate(next);
};

function propagate(next: Handler): Handler {
  return (ex) => {
    const h = ex.req.headers;
    const d = traceContext(one(h.traceparent), one(h['x-b3-traceid']), one(h['x-b3-spanid']), one(h['x-b3-sampled']), one(h.b3));
    ex.traceId = d.traceId;
    if (d.add !== undefined) ex.extraHeaders.push('traceparent', d.add);
    next(ex);
  };
}
