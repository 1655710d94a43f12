// W3C trace context and B3: keep what the caller sent, start a trace when
// there is none, so every request leaving the proxy carries a traceparent.
import { randomFillSync } from 'node:crypto';

// Random bytes come from a refilled pool: one syscall per 256 requests.
const pool = Buffer.alloc(24 * 256);
let offset = pool.length;

export function randomHex(bytes: number): string {
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
  const add = newTraceparent();
  return { add, traceId: add.slice(3, 35) };
}

// A new traceparent is written as ASCII bytes and decoded once: one string per request instead of two
// hex strings, a template and its flattening (the trace id is a slice of it).
const HEX = Buffer.from('0123456789abcdef', 'latin1');
const scratch = Buffer.from('00-00000000000000000000000000000000-0000000000000000-01', 'latin1');

function newTraceparent(): string {
  if (offset + 24 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  // Bytes 0-15 of the draw are the trace id (chars 3-34), 16-23 the span id (chars 36-51).
  for (let i = 0; i < 24; i++) {
    const b = pool[offset + i]!;
    const at = i < 16 ? 3 + 2 * i : 4 + 2 * i;
    scratch[at] = HEX[b >> 4]!;
    scratch[at + 1] = HEX[b & 15]!;
  }
  offset += 24;
  return scratch.toString('latin1');
}
