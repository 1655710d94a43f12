// Maps an upstream failure to the x-mesh-error reason and a short code.
import type { ProxyErrorReason } from '../http/send-proxy-error.ts';

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNRESET_BEFORE_CONNECT', 'MESH_CONNECT_TIMEOUT']);

export function classifyUpstreamError(err: unknown, responded: boolean): { reason: ProxyErrorReason; code: string } {
  let e = err as { code?: string; cause?: { code?: string }; name?: string };
  // node:http2 cancels streams waiting for a session that failed to connect; the cause says why.
  if (e?.code === 'ERR_HTTP2_STREAM_CANCEL' && e.cause?.code !== undefined) e = e.cause;
  const code = e?.code && e.code !== 'UND_ERR_SOCKET' ? e.code : (e?.cause?.code ?? e?.code ?? e?.name ?? 'ERROR');
  if (!responded && CONNECT_CODES.has(code)) return { reason: 'upstream-connect-failure', code };
  if (code === 'HPE_INVALID_CONSTANT' || code?.startsWith('HPE_') || code === 'UND_ERR_INFO') return { reason: 'upstream-protocol-error', code };
  return { reason: 'upstream-reset', code };
}
