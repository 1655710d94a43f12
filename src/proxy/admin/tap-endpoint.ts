// GET /tap?path=&status=&method= on the admin port: an NDJSON stream of the
// requests this proxy finishes that match the filter, until the reader goes.
// A slow reader loses lines (counted, and reported in a "dropped" line); it
// never grows the proxy's memory past MAX_TAP_BYTES or slows traffic.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TapFilter } from '../../shared/api.ts';
import { formatIssues } from '../../shared/snapshot.ts';
import { BoundedLineWriter } from '../../shared/bounded-line-writer.ts';
import type { TapHub } from '../telemetry/tap-hub.ts';

/** Per tap stream: bytes queued in the socket plus lines pending. */
export const MAX_TAP_BYTES = 256 * 1024;

export function serveTap(hub: TapHub, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://admin');
  const q = TapFilter.safeParse(Object.fromEntries(url.searchParams));
  if (!q.success) {
    const body = JSON.stringify({ error: formatIssues(q.error, '(query)') }) + '\n';
    res.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  const out = new BoundedLineWriter(res, MAX_TAP_BYTES, (count) => JSON.stringify({ type: 'dropped', count }) + '\n');
  out.onDrop = () => hub.stats.tap_dropped_total.with().value++;
  const unsubscribe = hub.subscribe(q.data, out);
  res.once('close', unsubscribe);
}
