// Forwards one request to an HTTP/1.1 endpoint through the endpoint's H1Pool
// (h1-pool.ts): bodies stream both ways with backpressure, nothing is buffered.
import type { Exchange } from '../http/exchange.ts';
import type { UpstreamEndpoint } from './upstream-endpoint.ts';
import { upstreamRequestHeaders } from '../http/upstream-request-headers.ts';
import { responseHeadersH1 } from '../http/downstream-response-headers.ts';
import { sendProxyError } from '../http/send-proxy-error.ts';
import { classifyUpstreamError } from './classify-upstream-error.ts';
import { requestHasBody } from '../http/request-has-body.ts';
import type { AttemptObserver } from '../http/attempt-observer.ts';
import type { H1Call, H1Handler } from './h1-pool.ts';
import type { ServerResponse } from 'node:http';
import type { H2StreamResponse } from '../listeners/h2-stream-exchange.ts';
import type { Readable } from 'node:stream';

/** Raw [name, value, ...] as an object with lowercase names (repeated names: arrays), for HTTP/2 clients and trailers. */
function headerObject(raw: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    const prev = out[k];
    const v = raw[i + 1]!;
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

class Http1Exchange implements H1Handler {
  private readonly ex: Exchange;
  private readonly ep: UpstreamEndpoint;
  private call: H1Call | undefined;
  private responded = false;
  private finished = false;
  private readonly sentNs: bigint;
  // Retries: the observer of this attempt, and its number; a later attempt makes this one stale.
  private readonly obs: AttemptObserver | undefined;
  private readonly attempt: number;
  private discarded = false;
  // Content-Length body bytes still to come (-1: no length). The chunk that completes it ends the
  // response: one end(chunk) instead of write(chunk) then end(), the latter a second pass through
  // the socket's write path for nothing.
  private remaining = -1;
  private endedEarly = false;

  constructor(ex: Exchange, ep: UpstreamEndpoint) {
    this.ex = ex;
    this.ep = ep;
    this.sentNs = process.hrtime.bigint();
    this.obs = ex.attemptObserver;
    this.attempt = ex.attempt;
  }

  abort(reason?: Error): void {
    this.call?.abort(reason ?? new Error('client went away'));
  }

  onRequestStart(call: H1Call): void {
    this.call = call;
    // The client may have left while the request was queued.
    if (this.ex.done || this.ex.attempt !== this.attempt) call.abort(new Error('client went away'));
    else this.obs?.started(this.attempt);
  }

  onBodySent(bytes: number): void {
    this.ex.bytesIn += bytes;
  }

  onResponseStart(_call: H1Call, statusCode: number, statusText: string, raw: string[], contentLength: number): void {
    const now = process.hrtime.bigint();
    this.ep.observe(Number(now - this.sentNs), now);
    this.responded = true;
    const ex = this.ex;
    // The few headers the proxy reads, found in one pass (names compared only when the length fits).
    let grpc: string | undefined;
    let meshError: string | undefined;
    let upstreamAttempts = false;
    let connection: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const len = raw[i]!.length;
      if (len !== 10 && len !== 11 && len !== 12 && len !== 15) continue;
      const name = raw[i]!.toLowerCase();
      if (name === 'grpc-status') grpc ??= raw[i + 1];
      else if (name === 'x-mesh-error') meshError ??= raw[i + 1];
      else if (name === 'x-mesh-attempts') upstreamAttempts = true;
      else if (name === 'connection') connection = connection === undefined ? raw[i + 1] : `${connection},${raw[i + 1]}`;
    }
    // gRPC errors come as trailers-only responses: grpc-status in the head.
    if (ex.attempt !== this.attempt || this.obs?.response(statusCode, grpc, statusCode === 503 ? meshError : undefined)) {
      // Retried or abandoned: read the rest and drop it, keeping the connection.
      this.discarded = true;
      return;
    }
    const res = ex.res!;
    ex.status = statusCode;
    this.remaining = contentLength;
    // The retry filter's x-mesh-attempts, unless the upstream (a next sidecar) already says how many it made.
    const attempts = upstreamAttempts ? undefined : ex.attemptsHeader;
    // The same flat list for HTTP/2 clients: node:http2 lowercases the names as it encodes them.
    const out = responseHeadersH1(raw, connection);
    if (attempts !== undefined) out.push('x-mesh-attempts', attempts);
    if (ex.http2) (res as H2StreamResponse).writeHead(statusCode, out);
    else (res as ServerResponse).writeHead(statusCode, statusText || undefined, out as unknown as import('node:http').OutgoingHttpHeaders);
  }

  onResponseData(call: H1Call, chunk: Buffer): void {
    if (this.discarded) return;
    this.ex.bytesOut += chunk.length;
    if (this.remaining > 0 && (this.remaining -= chunk.length) === 0) {
      this.endedEarly = true;
      this.ex.ended = true;
      this.ex.res!.end(chunk);
      return;
    }
    if (!(this.ex.res as ServerResponse).write(chunk)) {
      call.pause();
      this.ex.res!.once('drain', () => call.resume());
    }
  }

  onResponseEnd(_call: H1Call, trailers: string[] | undefined): void {
    this.done();
    if (this.discarded || this.endedEarly) return;
    const res = this.ex.res!;
    if (trailers !== undefined && trailers.length > 0) (res as ServerResponse).addTrailers(headerObject(trailers) as Record<string, string>);
    this.ex.ended = true;
    res.end();
  }

  onResponseError(_call: H1Call, err: Error): void {
    this.done();
    const ex = this.ex;
    if (ex.done || this.endedEarly) return; // the client left first, or has the whole body: nothing to tell
    if (this.discarded || ex.attempt !== this.attempt) return;
    const { reason, code } = classifyUpstreamError(err, this.responded);
    if (reason === 'upstream-connect-failure') this.ep.observeFailure(process.hrtime.bigint());
    if (this.obs?.failed(reason, code, this.responded)) return;
    sendProxyError(ex, reason, `${ex.cluster?.name ?? ''} ${this.ep.hostPort} ${code}`);
  }

  private done(): void {
    if (this.finished) return;
    this.finished = true;
    this.ep.inflight--;
    this.obs?.finished(this.attempt);
  }
}

export function forwardHttp1(ex: Exchange, ep: UpstreamEndpoint): void {
  const req = ex.req;
  const handler = new Http1Exchange(ex, ep);
  ex.upstream = handler;
  ep.inflight++;
  ep.requests++;
  ep.h1Pool().dispatch(
    {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: upstreamRequestHeaders(ex, false),
      body: ex.body !== undefined ? ex.body : requestHasBody(ex) ? (req as unknown as Readable) : null,
    },
    handler,
  );
}
