// Metrics and access logs for the proxy: records one finished HTTP exchange
// or TCP connection. Label series are cached per route and status so the hot
// path does a map lookup and a few additions.
import { MetricsRegistry, type Series } from './metrics-registry.ts';
import { HTTP_STATS, LISTENER_STATS, METRIC_PREFIX, RUNTIME_STATS, TCP_STATS } from './proxy-stats.ts';
import { AccessLog } from './access-log.ts';
import { TLS_STATS } from './tls-stats.ts';
import type { Exchange } from '../http/exchange.ts';
import type { CompiledListener } from '../runtime/compiled-listener.ts';
import { TapHub } from './tap-hub.ts';
import { SpanExporter } from './span-exporter.ts';

interface HttpSeries {
  requests: Series;
  duration: Series;
  reqBytes: Series;
  resBytes: Series;
}

export interface TcpRecord {
  listener: CompiledListener;
  source: string;
  destination: string;
  cluster?: string;
  upstream?: string;
  startMs: number;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  error?: string;
  protocol: string;
  /** Inbound mTLS: the verified caller and TLS version. */
  peerIdentity?: string;
  tlsVersion?: string;
}

function responseClass(status: number): string {
  return status >= 100 && status < 600 ? `${(status / 100) | 0}xx` : 'error';
}

export class ProxyTelemetry {
  readonly metrics = new MetricsRegistry();
  readonly http = this.metrics.register(METRIC_PREFIX, HTTP_STATS);
  readonly tcp = this.metrics.register(METRIC_PREFIX, TCP_STATS);
  readonly listeners = this.metrics.register(METRIC_PREFIX, LISTENER_STATS);
  readonly runtime = this.metrics.register(METRIC_PREFIX, RUNTIME_STATS);
  readonly tls = this.metrics.register(METRIC_PREFIX, TLS_STATS);
  readonly accessLog: AccessLog;
  /** `meshctl tap` subscribers (admin /tap) and OTLP span export. */
  readonly tap = new TapHub(this.metrics);
  readonly spans = new SpanExporter(this.metrics);
  accessLogEnabled = true;
  // Series cached per route (or listener, for requests no route matched), then source, version and
  // status+tls: the hot path looks up strings it already has and a number, and builds no key string.
  private readonly httpCache = new WeakMap<object, Map<string, Map<string, Map<number, HttpSeries>>>>();

  constructor(stream: NodeJS.WritableStream) {
    this.accessLog = new AccessLog(stream);
  }

  private httpSeries(l: CompiledListener, destination: string, version: string, route: string, status: number, source: string, tls: boolean, owner: object = l): HttpSeries {
    // `owner` fixes listener, destination and route; the rest are the inner keys.
    let bySource = this.httpCache.get(owner);
    if (bySource === undefined) this.httpCache.set(owner, (bySource = new Map()));
    let byVersion = bySource.get(source);
    if (byVersion === undefined) bySource.set(source, (byVersion = new Map()));
    let byStatus = byVersion.get(version);
    if (byStatus === undefined) byVersion.set(version, (byStatus = new Map()));
    const key = tls ? status + 1000 : status;
    let s = byStatus.get(key);
    if (s === undefined) {
      const labels = [l.direction, l.name, source, destination, version, route, responseClass(status), String(status), String(tls)];
      const vol = [l.direction, l.name, source, destination, route];
      s = {
        requests: this.http.requests_total.with(...labels),
        duration: this.http.request_duration_seconds.with(...labels),
        reqBytes: this.http.request_bytes_total.with(...vol),
        resBytes: this.http.response_bytes_total.with(...vol),
      };
      byStatus.set(key, s);
    }
    return s;
  }

  recordHttp(ex: Exchange): void {
    const l = ex.listener;
    const durationNs = Number(process.hrtime.bigint() - ex.startNs);
    const destination = ex.route?.service ?? l.localService;
    const route = ex.route?.name ?? '';
    const version = ex.cluster?.versionOf(ex.endpoint) ?? '';
    // On an mTLS listener the caller is the verified peer; plaintext callers stay the listener's default.
    const source = ex.peer?.service ?? l.sourceService;
    // Inbound endpoints are the app's (never TLS), outbound ones a peer sidecar's: one test serves both directions.
    const s = this.httpSeries(l, destination, version, route, ex.status, source, ex.peer !== undefined || ex.endpoint?.tls !== undefined, ex.route ?? l);
    s.requests.value++;
    s.duration.observe(durationNs / 1e9);
    s.reqBytes.value += ex.bytesIn;
    s.resBytes.value += ex.bytesOut;
    if (ex.error !== undefined) {
      const sp = ex.error.indexOf(' ');
      this.http.proxy_errors_total.with(l.direction, l.name, sp === -1 ? ex.error : ex.error.slice(0, sp)).value++;
    }
    // Off unless someone taps / the request was sampled: one check each.
    if (this.tap.active) this.tap.offer(ex, source, destination, route, durationNs);
    if (ex.span !== undefined) this.spans.recordExchange(ex, source, destination, route, durationNs);
    if (!this.accessLogEnabled) return;
    const req = ex.req;
    this.accessLog.write({
      time: new Date(ex.startMs).toISOString(),
      kind: 'http',
      direction: l.direction,
      listener: l.name,
      source,
      destination,
      route,
      method: req.method,
      path: ex.path,
      authority: ex.host,
      protocol: ex.socket ? 'upgrade' : ex.http2 ? 'HTTP/2' : 'HTTP/1.1',
      status: ex.status,
      duration_ms: Math.round(durationNs / 1e3) / 1e3,
      bytes_in: ex.bytesIn,
      bytes_out: ex.bytesOut,
      upstream: ex.endpoint?.hostPort,
      cluster: ex.cluster?.name,
      version: version || undefined,
      error: ex.error,
      trace_id: ex.traceId,
      peer_identity: ex.peer?.spiffeId,
      tls_version: ex.peer?.tlsVersion,
      authz: ex.authzAudit,
      attempts: ex.attempts > 1 ? ex.attempts : undefined,
      failover: ex.failover,
    });
  }

  /** A TCP connection closed before anything was proxied (rate limit, fault, authz): logged with its reason. */
  recordRefusedTcp(listener: CompiledListener, source: string | undefined, protocol: string, error: string): void {
    const destination = listener.tcp?.service ?? listener.localService;
    this.recordTcp({ listener, source: source ?? listener.sourceService, destination, startMs: Date.now(), durationMs: 0, bytesIn: 0, bytesOut: 0, error, protocol });
  }

  recordTcp(r: TcpRecord): void {
    const l = r.listener;
    const labels = [l.direction, l.name, r.source, r.destination];
    this.tcp.tcp_connections_total.with(...labels).value++;
    this.tcp.tcp_bytes_total.with(...labels, 'in').value += r.bytesIn;
    this.tcp.tcp_bytes_total.with(...labels, 'out').value += r.bytesOut;
    if (r.error?.startsWith('upstream-connect-failure')) this.tcp.tcp_connect_failures_total.with(...labels).value++;
    if (!this.accessLogEnabled) return;
    this.accessLog.write({
      time: new Date(r.startMs).toISOString(),
      kind: 'tcp',
      direction: l.direction,
      listener: l.name,
      source: r.source,
      destination: r.destination,
      protocol: r.protocol,
      duration_ms: r.durationMs,
      bytes_in: r.bytesIn,
      bytes_out: r.bytesOut,
      upstream: r.upstream,
      cluster: r.cluster,
      error: r.error,
      peer_identity: r.peerIdentity,
      tls_version: r.tlsVersion,
    });
  }
}
