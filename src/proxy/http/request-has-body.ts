// Whether a downstream request carries a body, so bodiless requests skip stream plumbing.
import type { H2StreamRequest } from '../listeners/h2-stream-exchange.ts';
import type { Exchange } from './exchange.ts';

export function requestHasBody(ex: Exchange): boolean {
  const req = ex.req;
  if (ex.http2) return !(req as H2StreamRequest).stream.endAfterHeaders;
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const cl = h['content-length'];
  return cl !== undefined && cl !== '0';
}
