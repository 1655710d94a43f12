// Propagates W3C traceparent/tracestate and B3 unchanged, and starts a trace
// (new traceparent) for a request that carries none.
import type { Filter } from './filter.ts';
import { traceContext } from '../telemetry/trace-context.ts';

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export const traceContextFilter: Filter = (next) => (ex) => {
  const h = ex.req.headers;
  const d = traceContext(one(h.traceparent), one(h['x-b3-traceid']), one(h['x-b3-spanid']), one(h['x-b3-sampled']), one(h.b3));
  ex.traceId = d.traceId;
  if (d.add !== undefined) ex.extraHeaders.push('traceparent', d.add);
  next(ex);
};
