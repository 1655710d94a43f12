// Forwards one request as a stream on the endpoint's HTTP/2 session: h2c on
// node:http2, or h2 over mTLS to a peer sidecar on the proxy's own engine
// (h2/), whose streams answer to the same calls and events. gRPC and other
// HTTP/2 traffic keep trailers and full-duplex streaming.
import http2 from 'node:http2';
import type { H2StreamResponse } from '../listeners/h2-stream-exchange.ts';
import type { ServerResponse } from 'node:http';
import type { Exchange } from '../http/exchange.ts';
import type { UpstreamEndpoint } from './upstream-endpoint.ts';
import { responseHeadersH1FromObject } from '../http/downstream-response-headers.ts';
import { responseHeadersH1FromList, upstreamRequestHeadersH2List } from './h2-headers.ts';
import { sendProxyError } from '../http/send-proxy-error.ts';
import { classifyUpstreamError } from './classify-upstream-error.ts';
import { requestHasBody } from '../http/request-has-body.ts';
import type { AttemptObserver } from '../http/attempt-observer.ts';

const { NGHTTP2_CANCEL } = http2.constants;

// The stream's listeners are these shared functions, which find their exchange in a slot of the stream, cleared
// at 'close'. node:http2 keeps a closed stream reachable until the next full GC, so whatever the stream still
// points to (the downstream request and response, the filter chain's state) survived every young GC, was copied
// into the old generation (about 7 KB per request) and set off mark-compacts. Per-exchange arrow functions had to
// be removed one by one for that; shared ones cost neither the closures nor the removals.
const EXCHANGE = Symbol('mesh.h2Exchange');
type TaggedStream = http2.ClientHttp2Stream & { [EXCHANGE]?: Http2Exchange };

function onStreamResponse(this: TaggedStream, headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, _flags: number, rawHeaders?: string[]): void {
  this[EXCHANGE]?.onResponse(headers, rawHeaders);
}
function onStreamData(this: TaggedStream, chunk: Buffer): void {
  this[EXCHANGE]?.onData(chunk);
}
function onStreamTrailers(this: TaggedStream, trailers: http2.IncomingHttpHeaders): void {
  this[EXCHANGE]?.onTrailers(trailers);
}
function onStreamEnd(this: TaggedStream): void {
  this[EXCHANGE]?.onEnd();
}
// Stays after 'close' too: an emitted 'error' without a listener would throw.
function onStreamError(this: TaggedStream, err: Error): void {
  this[EXCHANGE]?.onError(err);
}
function onStreamClose(this: TaggedStream): void {
  const x = this[EXCHANGE];
  if (x === undefined) return;
  this[EXCHANGE] = undefined;
  x.onClose();
}

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
  // Resumes the stream after downstream backpressure; made on the first write that has to wait.
  private onDrain: (() => void) | undefined;
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
    (stream as TaggedStream)[EXCHANGE] = this;
    stream.on('response', onStreamResponse);
    stream.on('trailers', onStreamTrailers);
    stream.on('end', onStreamEnd);
    stream.on('error', onStreamError);
    stream.on('close', onStreamClose);
  }

  abort(): void {
    if (!this.stream.destroyed) this.stream.close(NGHTTP2_CANCEL);
  }

  onResponse(headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, rawHeaders: string[] | undefined): void {
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
    // A flat list for either kind of client: node:http2 takes it as it is, without the header object it
    // would copy and turn back into a list.
    const out = rawHeaders ? responseHeadersH1FromList(rawHeaders, headers.connection as string | undefined) : responseHeadersH1FromObject(headers);
    if (attempts !== undefined) out.push('x-mesh-attempts', attempts);
    if (ex.http2) (ex.res as H2StreamResponse).writeHead(status, out);
    else (ex.res as ServerResponse).writeHead(status, out as unknown as import('node:http').OutgoingHttpHeaders);
    // Read the body only now: node:http2 emits 'response' on nextTick, so a DATA frame read in the same
    // chunk as HEADERS (common over TLS) would otherwise reach onData first and send an implicit 200.
    this.stream.on('data', onStreamData);
  }

  onData(chunk: Buffer): void {
    if (this.finished) return;
    this.ex.bytesOut += chunk.length;
    if (!(this.ex.res as import('node:http').ServerResponse).write(chunk)) {
      this.stream.pause();
      this.ex.res!.once('drain', (this.onDrain ??= () => this.stream.resume()));
    }
  }

  onTrailers(t: http2.IncomingHttpHeaders): void {
    const out: Record<string, string | string[]> = {};
    for (const k of Object.keys(t)) if (k.charCodeAt(0) !== 58 && t[k] !== undefined) out[k] = t[k]!;
    this.trailers = out;
  }

  onEnd(): void {
    if (this.finished) return;
    this.done();
    const res = this.ex.res!;
    if (this.trailers) (res as ServerResponse).addTrailers(this.trailers as Record<string, string>);
    this.ex.ended = true;
    res.end();
  }

  onError(err: Error): void {
    if (this.finished) return;
    this.done();
    if (this.ex.done || this.ex.attempt !== this.attempt) return;
    const { reason, code } = classifyUpstreamError(err, this.responded);
    if (reason === 'upstream-connect-failure') this.ep.observeFailure(process.hrtime.bigint());
    if (this.obs?.failed(reason, code, this.responded)) return;
    sendProxyError(this.ex, reason, `${this.ex.cluster?.name ?? ''} ${this.ep.hostPort} ${code}`);
  }

  /** The stream's last event; it no longer points to this exchange. */
  onClose(): void {
    if (this.onDrain !== undefined) this.ex.res?.removeListener('drain', this.onDrain);
    // A stream reset without an error event (RST_STREAM from the upstream).
    if (this.finished || this.ex.done) return;
    this.done();
    if (this.ex.attempt !== this.attempt) return;
    if (this.obs?.failed('upstream-reset', `RST_STREAM ${this.stream.rstCode ?? ''}`.trimEnd(), this.responded)) return;
    sendProxyError(this.ex, 'upstream-reset', `${this.ex.cluster?.name ?? ''} ${this.ep.hostPort} RST_STREAM ${this.stream.rstCode ?? ''}`.trimEnd());
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
