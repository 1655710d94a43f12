// Maps an upstream failure to the x-mesh-error reason and a short code.
import type { ProxyErrorReason } from '../http/send-proxy-error.ts';

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNRESET_BEFORE_CONNECT']);

export function classifyUpstreamError(err: unknown, responded: boolean): { reason: ProxyErrorReason; code: string } {
  const e = err as { code?: string; cause?: { code?: string }; name?: string };
  const code = e?.code && e.code !== 'UND_ERR_SOCKET' ? e.code : (e?.cause?.code ?? e?.code ?? e?.name ?? 'ERROR');
  if (!responded && CONNECT_CODES.has(code)) return { reason: 'upstream-connect-failure', code };
  if (code === 'HPE_INVALID_CONSTANT' || code?.startsWith('HPE_') || code === 'UND_ERR_INFO') return { reason: 'upstream-protocol-error', code };
  return { reason: 'upstream-reset', code };
}
