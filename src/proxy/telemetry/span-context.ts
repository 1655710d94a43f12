// Per-hop spans when span export is on (snapshot telemetry.tracing.otlpEndpoint).
// Each proxy hop is one span: a server span on an inbound listener, a client
// span on an outbound one. Its parent is the span the caller named in its
// traceparent (or B3), and the request leaves with this hop's span id, so the
// next hop (the app, then the next sidecar) is a child of this one.
//
// Sampling is parent-based: a caller's sampled flag is kept; only a request
// that starts a trace is sampled with `sampleRate`. An unsampled request is
// propagated as without span export and records no span.
import type { Handler } from '../filters/filter.ts';
import type { Exchange } from '../http/exchange.ts';
import { randomHex } from './trace-context.ts';

export interface HopSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const B3_TRACE = /^[0-9a-f]{16}([0-9a-f]{16})?$/;
const B3_SPAN = /^[0-9a-f]{16}$/;

export interface HopDecision {
  traceId: string;
  /** This hop's span, when sampled. */
  span: HopSpan | undefined;
  /** The traceparent the request leaves with; undefined: send the caller's unchanged. */
  traceparent: string | undefined;
  /** The request carried a traceparent (maybe malformed) that `traceparent` replaces. */
  replace: boolean;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Decide this hop's span from the request's trace headers (lowercase map). */
export function hopDecision(h: Record<string, string | string[] | undefined>, sampleRate: number, random: () => number = Math.random): HopDecision {
  const tp = one(h.traceparent);
  const m = tp === undefined ? null : TRACEPARENT.exec(tp);
  if (m !== null && m[1] !== 'ff') {
    const traceId = m[2]!;
    const flags = m[4]!;
    if ((parseInt(flags, 16) & 1) === 0) return { traceId, span: undefined, traceparent: undefined, replace: false };
    const spanId = randomHex(8);
    return { traceId, span: { traceId, spanId, parentSpanId: m[3]! }, traceparent: `00-${traceId}-${spanId}-${flags}`, replace: true };
  }
  // B3 multi or single header: the same ids, carried on as a traceparent.
  let tid = one(h['x-b3-traceid']);
  let sid = one(h['x-b3-spanid']);
  let sampled = one(h['x-b3-sampled']) ?? (one(h['x-b3-flags']) === '1' ? '1' : undefined);
  const single = one(h.b3);
  if (!tid && single) [tid, sid, sampled] = single.split('-');
  if (tid && B3_TRACE.test(tid)) {
    const traceId = tid.length === 16 ? '0000000000000000' + tid : tid;
    const parent = sid && B3_SPAN.test(sid) ? sid : undefined;
    if (sampled === '0') return { traceId, span: undefined, traceparent: `00-${traceId}-${parent ?? randomHex(8)}-00`, replace: tp !== undefined };
    const spanId = randomHex(8);
    return { traceId, span: { traceId, spanId, parentSpanId: parent }, traceparent: `00-${traceId}-${spanId}-01`, replace: tp !== undefined };
  }
  const traceId = randomHex(16);
  const spanId = randomHex(8);
  const keep = sampleRate >= 1 || (sampleRate > 0 && random() < sampleRate);
  return { traceId, span: keep ? { traceId, spanId, parentSpanId: undefined } : undefined, traceparent: `00-${traceId}-${spanId}-${keep ? '01' : '00'}`, replace: tp !== undefined };
}

/**
 * Replaces a header the caller sent, in the request the proxy forwards: the
 * upstream headers are copied from rawHeaders (HTTP/1 and HTTP/2 keep that
 * array), so the value is edited there, and in the parsed map for later filters.
 */
function replaceHeader(ex: Exchange, name: string, value: string): void {
  const raw = ex.req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) raw[i + 1] = value;
  (ex.req.headers as Record<string, string | string[] | undefined>)[name] = value;
}

/** B3 headers the caller sent name this hop's span too, for apps that read B3 only. */
function replaceB3(ex: Exchange, h: Record<string, string | string[] | undefined>, span: HopSpan): void {
  if (h['x-b3-spanid'] !== undefined) replaceHeader(ex, 'x-b3-spanid', span.spanId);
  if (h['x-b3-parentspanid'] !== undefined && span.parentSpanId !== undefined) replaceHeader(ex, 'x-b3-parentspanid', span.parentSpanId);
  const single = one(h.b3);
  if (single !== undefined && single.includes('-')) {
    const tid = single.split('-', 1)[0]!;
    replaceHeader(ex, 'b3', `${tid}-${span.spanId}-1${span.parentSpanId !== undefined ? `-${span.parentSpanId}` : ''}`);
  }
}

/** The trace-context step with span export on: starts this hop's span and sends its id on. */
export function spanningHandler(next: Handler, sampleRate: number): Handler {
  return (ex) => {
    const h = ex.req.headers as Record<string, string | string[] | undefined>;
    const d = hopDecision(h, sampleRate);
    ex.traceId = d.traceId;
    ex.span = d.span;
    if (d.traceparent !== undefined) {
      if (d.replace) replaceHeader(ex, 'traceparent', d.traceparent);
      else ex.extraHeaders.push('traceparent', d.traceparent);
    }
    if (d.span !== undefined && (h['x-b3-spanid'] !== undefined || h.b3 !== undefined)) replaceB3(ex, h, d.span);
    next(ex);
  };
}
