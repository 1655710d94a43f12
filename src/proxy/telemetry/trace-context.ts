// W3C trace context and B3: keep what the caller sent, start a trace when
// there is none, so every request leaving the proxy carries a traceparent.
import { randomFillSync } from 'node:crypto';

// Random bytes come from a refilled pool: one syscall per 256 requests.
const pool = Buffer.alloc(24 * 256);
let offset = pool.length;

function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const s = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return s;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceDecision {
  /** Header to add (name, value), or undefined when the request already carries a usable traceparent. */
  add: string | undefined;
  traceId: string;
}

/**
 * Decide the trace headers for one request. `traceparent` and `b3`-style
 * values are read from the lowercase header map of the request.
 */
export function traceContext(traceparent: string | undefined, b3TraceId: string | undefined, b3SpanId: string | undefined, b3Sampled: string | undefined, b3Single: string | undefined): TraceDecision {
  if (traceparent) {
    const m = TRACEPARENT.exec(traceparent);
    if (m) return { add: undefined, traceId: m[1]! };
  }
  // B3 multi or single header: derive a traceparent with the same ids.
  let tid = b3TraceId;
  let sid = b3SpanId;
  let sampled = b3Sampled;
  if (!tid && b3Single) {
    const parts = b3Single.split('-');
    tid = parts[0];
    sid = parts[1];
    sampled = parts[2];
  }
  if (tid && /^[0-9a-f]{16}([0-9a-f]{16})?$/.test(tid)) {
    const traceId = tid.length === 16 ? '0000000000000000' + tid : tid;
    const spanId = sid && /^[0-9a-f]{16}$/.test(sid) ? sid : randomHex(8);
    const flags = sampled === '0' ? '00' : '01';
    return { add: `00-${traceId}-${spanId}-${flags}`, traceId };
  }
  const traceId = randomHex(16);
  return { add: `00-${traceId}-${randomHex(8)}-01`, traceId };
}
