// Forwards one request as a stream on the endpoint's h2c session (node:http2):
// gRPC and other HTTP/2 traffic keep trailers and full-duplex streaming.
import http2 from 'node:http2';
import type { Http2ServerResponse } from 'node:http2';
import type { ServerResponse } from 'node:http';
import type { Exchange } from '../http/exchange.ts';
import type { UpstreamEndpoint } from './upstream-endpoint.ts';
import { responseHeadersH1FromObject, responseHeadersH2 } from '../http/downstream-response-headers.ts';
import { responseHeadersH1FromList, upstreamRequestHeadersH2List } from './h2-headers.ts';
import { sendProxyError } from '../http/send-proxy-error.ts';
import { classifyUpstreamError } from './classify-upstream-error.ts';
import { requestHasBody } from '../http/request-has-body.ts';
import type { AttemptObserver } from '../http/attempt-observer.ts';

const { NGHTTP2_CANCEL } = http2.constants;

// Stands in for the exchange's 'error' listener once the stream has closed (no error comes after 'close', but an
// emitted 'error' without a listener would throw).
function ignoreError(): void {}

// session.request() copies its options; two shared objects spare one per request.
const WITH_BODY = Object.freeze({ endStream: false });
const WITHOUT_BODY = Object.freeze({ endStream: true });

class Http2Exchange {
  private readonly ex: Exchange;
  private readonly ep: UpstreamEndpoint;
  private readonly stream: http2.ClientHttp2Stream;
  private readonly sentNs = process.hrtime.bigint();
  private responded = false;
  private finished = false;
  private trailers: Record<string, string | string[]> | undefined;
  // Retries: the observer of this attempt, and its number; a later attempt makes this one stale.
  private readonly obs: AttemptObserver | undefined;
  private readonly attempt: number;

  constructor(ex: Exchange, ep: UpstreamEndpoint, stream: http2.ClientHttp2Stream) {
    this.ex = ex;
    this.ep = ep;
    this.stream = stream;
    this.obs = ex.attemptObserver;
    this.attempt = ex.attempt;
    this.obs?.started(this.attempt);
    stream.on('response', this.onResponse);
    stream.on('trailers', this.onTrailers);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
  }

  abort(): void {
    if (!this.stream.destroyed) this.stream.close(NGHTTP2_CANCEL);
  }

  private readonly onResponse = (headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, _flags: number, rawHeaders?: string[]): void => {
    const now = process.hrtime.bigint();
    this.ep.observe(Number(now - this.sentNs), now);
    this.responded = true;
    const ex = this.ex;
    const status = Number(headers[':status'] ?? 502);
    const grpc = headers['grpc-status'];
    if (ex.attempt !== this.attempt || this.obs?.response(status, typeof grpc === 'string' ? grpc : undefined, status === 503 ? (headers['x-mesh-error'] as string | undefined) : undefined)) {
      // Retried or abandoned: cancel this stream, the session stays.
      this.done();
      this.abort();
      return;
    }
    ex.status = status;
    // The retry filter's x-mesh-attempts, unless the upstream (a next sidecar) already says how many it made.
    const attempts = headers['x-mesh-attempts'] === undefined ? ex.attemptsHeader : undefined;
    if (ex.http2) {
      const out = responseHeadersH2(headers);
      if (attempts !== undefined) out['x-mesh-attempts'] = attempts;
      (ex.res as Http2ServerResponse).writeHead(status, out);
    } else {
      const out = rawHeaders ? responseHeadersH1FromList(rawHeaders, headers.connection as string | undefined) : responseHeadersH1FromObject(headers);
      if (attempts !== undefined) out.push('x-mesh-attempts', attempts);
      (ex.res as ServerResponse).writeHead(status, out as unknown as import('node:http').OutgoingHttpHeaders);
    }
    // Read the body only now: node:http2 emits 'response' on nextTick, so a DATA frame read in the same
    // chunk as HEADERS (common over TLS) would otherwise reach onData first and send an implicit 200.
    this.stream.on('data', this.onData);
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.finished) return;
    this.ex.bytesOut += chunk.length;
    if (!(this.ex.res as import('node:http').ServerResponse).write(chunk)) {
      this.stream.pause();
      this.ex.res!.once('drain', this.onDrain);
    }
  };

  private readonly onDrain = (): void => {
    this.stream.resume();
  };

  private readonly onTrailers = (t: http2.IncomingHttpHeaders): void => {
    const out: Record<string, string | string[]> = {};
    for (const k of Object.keys(t)) if (k.charCodeAt(0) !== 58 && t[k] !== undefined) out[k] = t[k]!;
    this.trailers = out;
  };

  private readonly onEnd = (): void => {
    if (this.finished) return;
    this.done();
    const res = this.ex.res!;
    if (this.trailers) (res as ServerResponse).addTrailers(this.trailers as Record<string, string>);
    this.ex.ended = true;
    res.end();
  };

  private readonly onError = (err: Error): void => {
    if (this.finished) return;
    this.done();
    if (this.ex.done || this.ex.attempt !== this.attempt) return;
    const { reason, code } = classifyUpstreamError(err, this.responded);
    if (reason === 'upstream-connect-failure') this.ep.observeFailure(process.hrtime.bigint());
    if (this.obs?.failed(reason, code, this.responded)) return;
    sendProxyError(this.ex, reason, `${this.ex.cluster?.name ?? ''} ${this.ep.hostPort} ${code}`);
  };

  private readonly onClose = (): void => {
    this.release();
    // A stream reset without an error event (RST_STREAM from the upstream).
    if (this.finished || this.ex.done) return;
    this.done();
    if (this.ex.attempt !== this.attempt) return;
    if (this.obs?.failed('upstream-reset', `RST_STREAM ${this.stream.rstCode ?? ''}`.trimEnd(), this.responded)) return;
    sendProxyError(this.ex, 'upstream-reset', `${this.ex.cluster?.name ?? ''} ${this.ep.hostPort} RST_STREAM ${this.stream.rstCode ?? ''}`.trimEnd());
  };

  /**
   * 'close' is the stream's last event: drop its listeners, the only references from the stream to this
   * exchange. node:http2 keeps a closed stream reachable until the next full GC, so whatever the stream
   * still points to (the downstream request and response, the filter chain's state) survived every young
   * GC, was copied into the old generation (about 7 KB per request) and set off mark-compacts.
   */
  private release(): void {
    const s = this.stream;
    s.removeListener('response', this.onResponse);
    s.removeListener('trailers', this.onTrailers);
    s.removeListener('end', this.onEnd);
    s.removeListener('data', this.onData);
    s.removeListener('close', this.onClose);
    s.removeListener('error', this.onError);
    s.on('error', ignoreError);
    this.ex.res?.removeListener('drain', this.onDrain);
  }

  private done(): void {
    if (this.finished) return;
    this.finished = true;
    this.ep.inflight--;
    this.obs?.finished(this.attempt);
  }
}

export function forwardHttp2(ex: Exchange, ep: UpstreamEndpoint): void {
  const hasBody = requestHasBody(ex);
  ep.inflight++;
  ep.requests++;
  let stream: http2.ClientHttp2Stream;
  try {
    stream = ep.http2Session().request(upstreamRequestHeadersH2List(ex), hasBody ? WITH_BODY : WITHOUT_BODY);
  } catch (err) {
    ep.inflight--;
    const { code } = classifyUpstreamError(err, false);
    ex.attemptObserver?.finished(ex.attempt);
    if (ex.attemptObserver?.failed('upstream-connect-failure', code, false)) return;
    sendProxyError(ex, 'upstream-connect-failure', `${ex.cluster?.name ?? ''} ${ep.hostPort} ${code}`);
    return;
  }
  ex.upstream = new Http2Exchange(ex, ep, stream);
  if (ex.body !== undefined) {
    // Buffered for retries (or its buffered head followed by the rest).
    const body = ex.body;
    if (Buffer.isBuffer(body)) {
      ex.bytesIn += body.length;
      stream.end(body);
    } else {
      body.on('data', (c: Buffer) => {
        ex.bytesIn += c.length;
      });
      body.pipe(stream);
    }
  } else if (hasBody) {
    const req = ex.req;
    req.on('data', (c: Buffer) => {
      ex.bytesIn += c.length;
    });
    req.pipe(stream);
  }
}
