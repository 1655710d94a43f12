// Forwards one request to an HTTP/1.1 endpoint through undici's low-level
// dispatch API: bodies stream both ways with backpressure, nothing is buffered.
import type { Dispatcher } from 'undici';
import type { Exchange } from '../http/exchange.ts';
import type { UpstreamEndpoint } from './upstream-endpoint.ts';
import { upstreamRequestHeaders } from '../http/upstream-request-headers.ts';
import { responseHeadersH1, responseHeadersH2 } from '../http/downstream-response-headers.ts';
import { sendProxyError } from '../http/send-proxy-error.ts';
import { classifyUpstreamError } from './classify-upstream-error.ts';
import { requestHasBody } from '../http/request-has-body.ts';
import type { AttemptObserver } from '../http/attempt-observer.ts';

type Controller = Dispatcher.DispatchController;

class Http1Exchange implements Dispatcher.DispatchHandler {
  private readonly ex: Exchange;
  private readonly ep: UpstreamEndpoint;
  private controller: Controller | undefined;
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
    this.controller?.abort(reason ?? new Error('client went away'));
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    // The client may have left while the request was queued.
    if (this.ex.done || this.ex.attempt !== this.attempt) controller.abort(new Error('client went away'));
    else this.obs?.started(this.attempt);
  }

  onBodySent(chunk: Buffer | string): void {
    this.ex.bytesIn += chunk.length;
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Record<string, string | string[]>, statusText: string): void {
    const now = process.hrtime.bigint();
    this.ep.observe(Number(now - this.sentNs), now);
    this.responded = true;
    const ex = this.ex;
    // gRPC errors come as trailers-only responses: grpc-status in the head (undici's parsed headers are lowercase).
    const grpc = headers['grpc-status'];
    if (ex.attempt !== this.attempt || this.obs?.response(statusCode, typeof grpc === 'string' ? grpc : grpc?.[0], statusCode === 503 ? (headers['x-mesh-error'] as string | undefined) : undefined)) {
      // Retried or abandoned: read the rest and drop it, keeping the connection.
      this.discarded = true;
      return;
    }
    const res = ex.res!;
    ex.status = statusCode;
    const cl = headers['content-length'];
    if (typeof cl === 'string') this.remaining = Number(cl);
    // The retry filter's x-mesh-attempts, unless the upstream (a next sidecar) already says how many it made.
    const attempts = headers['x-mesh-attempts'] === undefined ? ex.attemptsHeader : undefined;
    if (ex.http2) {
      const out = responseHeadersH2(headers);
      if (attempts !== undefined) out['x-mesh-attempts'] = attempts;
      (res as import('node:http2').Http2ServerResponse).writeHead(statusCode, out);
    } else {
      const raw = (controller as unknown as { rawHeaders: Buffer[] }).rawHeaders ?? [];
      const out = responseHeadersH1(raw, headers.connection);
      if (attempts !== undefined) out.push('x-mesh-attempts', attempts);
      (res as import('node:http').ServerResponse).writeHead(statusCode, statusText || undefined, out as unknown as import('node:http').OutgoingHttpHeaders);
    }
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.discarded) return;
    this.ex.bytesOut += chunk.length;
    if (this.remaining > 0 && (this.remaining -= chunk.length) === 0) {
      this.endedEarly = true;
      this.ex.ended = true;
      this.ex.res!.end(chunk);
      return;
    }
    if (!(this.ex.res as import('node:http').ServerResponse).write(chunk)) {
      controller.pause();
      this.ex.res!.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(_controller: Controller, trailers: Record<string, string | string[]>): void {
    this.done();
    if (this.discarded || this.endedEarly) return;
    const res = this.ex.res!;
    if (trailers && Object.keys(trailers).length > 0) (res as import('node:http').ServerResponse).addTrailers(trailers as Record<string, string>);
    this.ex.ended = true;
    res.end();
  }

  onResponseError(_controller: Controller, err: Error): void {
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
  ep.http1Pool().dispatch(
    {
      path: req.url ?? '/',
      method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: upstreamRequestHeaders(ex, false),
      body: ex.body !== undefined ? ex.body : requestHasBody(ex) ? (req as unknown as NodeJS.ReadableStream as import('node:stream').Readable) : null,
    },
    handler,
  );
}
