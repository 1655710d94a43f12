// Span export over OTLP/HTTP (JSON): spans wait in a bounded queue and leave
// in batches, one export request at a time, from a timer, never from the
// request path. A full queue or a failed export drops spans and counts them
// (mesh_spans_dropped_total{reason}); nothing is retried or buffered further.
import { http } from '../node-http.ts';
import https from 'node:https';
import type { Exchange } from '../http/exchange.ts';
import type { MetricFamily, MetricsRegistry } from './metrics-registry.ts';
import { METRIC_PREFIX } from './proxy-stats.ts';
import { TRACING_STATS } from './tracing-stats.ts';
import { encodeSpans, resourceAttributes, type SpanRecord } from './otlp-json.ts';

export interface SpanExporterOptions {
  maxQueue?: number;
  batchSize?: number;
  /** How long a span may wait for a batch to fill. */
  delayMs?: number;
  timeoutMs?: number;
}

/** `http://collector:4318` posts to /v1/traces; a URL with a path is used as it is. */
export function tracesUrl(endpoint: string): URL {
  const u = new URL(endpoint);
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/v1/traces';
  return u;
}

export class SpanExporter {
  readonly stats: Record<keyof typeof TRACING_STATS, MetricFamily>;
  readonly #maxQueue: number;
  readonly #batchSize: number;
  readonly #delayMs: number;
  readonly #timeoutMs: number;
  #url: URL | undefined;
  #resource: ReturnType<typeof resourceAttributes> = [];
  #service = '';
  #queue: SpanRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;
  /** Whether the last export failed: a failing endpoint is logged when it starts failing and when it recovers, not per batch. */
  #failing = false;
  /** Where those two lines go (default: one JSON line on stderr, like the proxy's other logs). */
  log: (fields: Record<string, unknown>) => void = (f) => process.stderr.write(JSON.stringify({ time: new Date().toISOString(), component: 'proxy', ...f }) + '\n');
  readonly #agents = { http: new http.Agent({ keepAlive: true, maxSockets: 1 }), https: new https.Agent({ keepAlive: true, maxSockets: 1 }) };

  constructor(metrics: MetricsRegistry, opts: SpanExporterOptions = {}) {
    this.stats = metrics.register(METRIC_PREFIX, TRACING_STATS);
    // Every series from the start, so rate() and alerts see 0 rather than nothing.
    this.stats.spans_exported_total.with();
    for (const reason of ['queue_full', 'export_failed']) this.stats.spans_dropped_total.with(reason);
    for (const result of ['ok', 'failed']) this.stats.span_exports_total.with(result);
    this.stats.span_queue_length.with();
    this.#maxQueue = opts.maxQueue ?? 2048;
    this.#batchSize = opts.batchSize ?? 256;
    this.#delayMs = opts.delayMs ?? 1000;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** From each applied snapshot: where spans go (none: spans are not kept) and who sends them. */
  configure(tracing: { otlpEndpoint?: string | undefined }, node: { service: string; project: string; id?: string | undefined }): void {
    this.#url = tracing.otlpEndpoint === undefined ? undefined : tracesUrl(tracing.otlpEndpoint);
    this.#resource = resourceAttributes(node);
    this.#service = node.service;
    if (this.#url === undefined) this.#queue = [];
  }

  /** A finished exchange with a sampled span (ProxyTelemetry.recordHttp). */
  recordExchange(ex: Exchange, source: string, destination: string, route: string, durationNs: number): void {
    const span = ex.span!;
    this.record({
      traceId: span.traceId,
      spanId: span.spanId,
      parentSpanId: span.parentSpanId,
      inbound: ex.listener.direction === 'inbound',
      listener: ex.listener.name,
      method: ex.req.method ?? 'GET',
      path: ex.path,
      route,
      authority: ex.host,
      status: ex.status,
      protocol: ex.http2 ? 'HTTP/2' : 'HTTP/1.1',
      source,
      destination,
      upstream: ex.endpoint?.hostPort,
      attempts: ex.attempts,
      error: ex.error,
      peerIdentity: ex.peer?.spiffeId,
      startMs: ex.startMs,
      durationNs,
    });
  }

  record(r: SpanRecord): void {
    if (this.#url === undefined) return;
    if (this.#queue.length >= this.#maxQueue) {
      this.stats.spans_dropped_total.with('queue_full').value++;
      return;
    }
    this.#queue.push(r);
    if (this.#inFlight) return; // the export in flight schedules the next
    if (this.#queue.length >= this.#batchSize) this.#schedule(0);
    else if (this.#timer === undefined) this.#schedule(this.#delayMs);
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#flush, ms);
    this.#timer.unref();
  }

  readonly #flush = (): void => {
    this.#timer = undefined;
    const url = this.#url;
    if (this.#inFlight || url === undefined || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#batchSize);
    this.stats.span_queue_length.with().value = this.#queue.length;
    this.#inFlight = true;
    const body = encodeSpans(this.#resource, batch);
    this.#post(url, body).then((error) => {
      this.#inFlight = false;
      const ok = error === undefined;
      if (ok !== !this.#failing) {
        this.#failing = !ok;
        const where = { service: this.#service, endpoint: url.href };
        this.log(ok ? { msg: 'span export works again', ...where } : { msg: 'span export failing; spans are dropped and counted in mesh_spans_dropped_total', ...where, error });
      }
      if (ok) {
        this.stats.spans_exported_total.with().value += batch.length;
        this.stats.span_exports_total.with('ok').value++;
      } else {
        this.stats.spans_dropped_total.with('export_failed').value += batch.length;
        this.stats.span_exports_total.with('failed').value++;
      }
      if (this.#queue.length > 0) this.#schedule(this.#queue.length >= this.#batchSize ? 0 : this.#delayMs);
    });
  };

  /** Resolves with undefined when the endpoint accepted the batch, else why not. */
  #post(url: URL, body: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.request(
        url,
        {
          method: 'POST',
          agent: url.protocol === 'https:' ? this.#agents.https : this.#agents.http,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: this.#timeoutMs,
        },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          res.on('end', () => resolve(status >= 200 && status < 300 ? undefined : `HTTP ${status}`));
          res.on('error', (err) => resolve(err.message));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
      req.end(body);
    });
  }

  /** Stops the timer and idle connections; queued spans are left unsent. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }
}
