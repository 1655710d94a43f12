// Responses the proxy makes itself. Each names the hop and the reason in
// `x-mesh-error` (and the access log), never a bare status.
import type { Exchange } from './exchange.ts';

export type ProxyErrorReason =
  | 'no-route'
  | 'no-listener'
  | 'no-healthy-endpoint'
  | 'upstream-connect-failure'
  | 'upstream-reset'
  | 'upstream-protocol-error'
  | 'rbac-denied'
  | 'timeout'
  | 'circuit-open'
  | 'rate-limited'
  | 'fault-injected';

export const PROXY_ERROR_STATUS: Record<ProxyErrorReason, number> = {
  'no-route': 404,
  'no-listener': 503,
  'no-healthy-endpoint': 503,
  'upstream-connect-failure': 503,
  'upstream-reset': 502,
  'upstream-protocol-error': 502,
  'rbac-denied': 403,
  timeout: 504,
  'circuit-open': 503,
  'rate-limited': 429,
  'fault-injected': 503,
};

const STATUS_TEXT: Record<number, string> = { 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

/** `opts.status` overrides the reason's status (fault aborts); `opts.headers` are added (retry-after). */
export function sendProxyError(ex: Exchange, reason: ProxyErrorReason, detail: string, opts?: { status?: number; headers?: Record<string, string> }): void {
  const value = detail ? `${reason} ${detail}` : reason;
  ex.error = value;
  const status = opts?.status ?? PROXY_ERROR_STATUS[reason];
  ex.status = status;
  const body = `${value}\n`;
  const res = ex.res;
  if (res) {
    if (res.headersSent) {
      // Too late for a status: cut the stream so the client sees the failure.
      res.destroy();
      return;
    }
    ex.bytesOut += Buffer.byteLength(body);
    (res as import('node:http').ServerResponse).writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-mesh-error': value,
      ...(ex.attemptsHeader !== undefined ? { 'x-mesh-attempts': ex.attemptsHeader } : undefined),
      ...opts?.headers,
    });
    ex.ended = true;
    res.end(body);
    return;
  }
  const socket = ex.socket;
  if (socket && !socket.destroyed) {
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-mesh-error: ${value}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
}
