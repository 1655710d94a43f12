// Spans in the OTLP/HTTP JSON encoding (ExportTraceServiceRequest): ids as
// hex, times as decimal strings of nanoseconds, attributes as typed values.
// https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding

export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  inbound: boolean;
  listener: string;
  method: string;
  path: string;
  route: string;
  authority: string;
  status: number;
  protocol: string;
  source: string;
  destination: string;
  upstream: string | undefined;
  attempts: number;
  error: string | undefined;
  peerIdentity: string | undefined;
  startMs: number;
  durationNs: number;
}

type AnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean };
type KeyValue = { key: string; value: AnyValue };

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;
const STATUS_UNSET = 0;
const STATUS_ERROR = 2;

function str(key: string, value: string | undefined, out: KeyValue[]): void {
  if (value !== undefined && value !== '') out.push({ key, value: { stringValue: value } });
}
function int(key: string, value: number, out: KeyValue[]): void {
  out.push({ key, value: { intValue: String(value) } });
}

export function resourceAttributes(r: { service: string; project: string; id?: string }): KeyValue[] {
  const out: KeyValue[] = [];
  str('service.name', r.service, out);
  str('service.namespace', r.project, out);
  str('service.instance.id', r.id, out);
  str('telemetry.sdk.name', 'meshctl-proxy', out);
  return out;
}

function span(r: SpanRecord) {
  const attrs: KeyValue[] = [];
  str('http.request.method', r.method, attrs);
  if (r.status > 0) int('http.response.status_code', r.status, attrs);
  str('http.route', r.route, attrs);
  str('url.path', r.path, attrs);
  str('server.address', r.authority, attrs);
  str('network.protocol.version', r.protocol === 'HTTP/2' ? '2' : '1.1', attrs);
  str('mesh.direction', r.inbound ? 'inbound' : 'outbound', attrs);
  str('mesh.listener', r.listener, attrs);
  str('mesh.source_service', r.source, attrs);
  str('mesh.destination_service', r.destination, attrs);
  if (!r.inbound) str('peer.service', r.destination, attrs);
  str('mesh.upstream', r.upstream, attrs);
  if (r.attempts > 1) int('mesh.attempts', r.attempts, attrs);
  str('mesh.peer_identity', r.peerIdentity, attrs);
  const reason = r.error === undefined ? undefined : r.error.split(' ', 1)[0];
  str('error.type', reason ?? (r.status >= 500 ? String(r.status) : undefined), attrs);
  // Server spans fail on 5xx; client spans on 4xx too (OpenTelemetry HTTP conventions).
  const failed = r.error !== undefined || r.status === 0 || r.status >= 500 || (!r.inbound && r.status >= 400);
  const start = BigInt(r.startMs) * 1_000_000n;
  return {
    traceId: r.traceId,
    spanId: r.spanId,
    ...(r.parentSpanId !== undefined ? { parentSpanId: r.parentSpanId } : {}),
    name: r.route ? `${r.method} ${r.route}` : r.method,
    kind: r.inbound ? SPAN_KIND_SERVER : SPAN_KIND_CLIENT,
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(start + BigInt(Math.max(0, Math.round(r.durationNs)))),
    attributes: attrs,
    status: failed ? { code: STATUS_ERROR, ...(r.error !== undefined ? { message: r.error } : {}) } : { code: STATUS_UNSET },
  };
}

/** One export request body for one proxy (one resource, one scope). */
export function encodeSpans(resource: KeyValue[], records: readonly SpanRecord[]): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: resource },
        scopeSpans: [{ scope: { name: 'meshctl-proxy' }, spans: records.map(span) }],
      },
    ],
  });
}
