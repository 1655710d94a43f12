// Responses the proxy makes itself. Each names the hop and the reason in
// `x-mesh-error` (and the access log), never a bare status.
import type { Exchange } from './exchange.ts';

export type ProxyErrorReason =
  | 'no-route'
  | 'no-listener'
  | 'no-healthy-endpoint'
  | 'upstream-connect-failure'
  | 'upstream-reset'
  | 'upstream-protocol-error';

export const PROXY_ERROR_STATUS: Record<ProxyErrorReason, number> = {
  'no-route': 404,
  'no-listener': 503,
  'no-healthy-endpoint': 503,
  'upstream-connect-failure': 503,
  'upstream-reset': 502,
  'upstream-protocol-error': 502,
};

const STATUS_TEXT: Record<number, string> = { 404: 'Not Found', 502: 'Bad Gateway', 503: 'Service Unavailable' };

export function sendProxyError(ex: Exchange, reason: ProxyErrorReason, detail: string): void {
  const value = detail ? `${reason} ${detail}` : reason;
  ex.error = value;
  const status = PROXY_ERROR_STATUS[reason];
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
