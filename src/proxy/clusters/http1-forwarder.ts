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

  onResponseStart(controller: Controller, statusCode: number, _headers: unknown, statusText: string): void {
    const now = process.hrtime.bigint();
    this.ep.observe(Number(now - this.sentNs), now);
    this.responded = true;
    const ex = this.ex;
    if (ex.attempt !== this.attempt || this.obs?.response(statusCode, grpcStatusOf(controller))) {
      // Retried or abandoned: read the rest and drop it, keeping the connection.
      this.discarded = true;
      return;
    }
    const res = ex.res!;
    ex.status = statusCode;
    const raw = (controller as unknown as { rawHeaders: Buffer[] }).rawHeaders ?? [];
    if (ex.http2) (res as import('node:http2').Http2ServerResponse).writeHead(statusCode, responseHeadersH2(raw));
    else (res as import('node:http').ServerResponse).writeHead(statusCode, statusText || undefined, responseHeadersH1(raw) as unknown as import('node:http').OutgoingHttpHeaders);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.discarded) return;
    this.ex.bytesOut += chunk.length;
    if (!(this.ex.res as import('node:http').ServerResponse).write(chunk)) {
      controller.pause();
      this.ex.res!.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(_controller: Controller, trailers: Record<string, string | string[]>): void {
    this.done();
    if (this.discarded) return;
    const res = this.ex.res!;
    if (trailers && Object.keys(trailers).length > 0) (res as import('node:http').ServerResponse).addTrailers(trailers as Record<string, string>);
    this.ex.ended = true;
    res.end();
  }

  onResponseError(_controller: Controller, err: Error): void {
    this.done();
    const ex = this.ex;
    if (ex.done) return; // the client left first; nothing to tell
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

// gRPC errors come as trailers-only responses: grpc-status in the head.
function grpcStatusOf(controller: Controller): string | undefined {
  const raw = (controller as unknown as { rawHeaders?: Buffer[] }).rawHeaders;
  if (raw === undefined) return undefined;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 11 && raw[i]!.toString('latin1').toLowerCase() === 'grpc-status') return raw[i + 1]!.toString('latin1');
  return undefined;
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
