// Forwards one request as a stream on the endpoint's h2c session (node:http2):
// gRPC and other HTTP/2 traffic keep trailers and full-duplex streaming.
import http2 from 'node:http2';
import type { Http2ServerResponse } from 'node:http2';
import type { ServerResponse } from 'node:http';
import type { Exchange } from '../http/exchange.ts';
import type { UpstreamEndpoint } from './upstream-endpoint.ts';
import { upstreamRequestHeadersH2 } from '../http/upstream-request-headers.ts';
import { h2ObjectToRaw, responseHeadersH1, responseHeadersH2 } from '../http/downstream-response-headers.ts';
import { sendProxyError } from '../http/send-proxy-error.ts';
import { classifyUpstreamError } from './classify-upstream-error.ts';
import { requestHasBody } from '../http/request-has-body.ts';

const { NGHTTP2_CANCEL } = http2.constants;

class Http2Exchange {
  private readonly ex: Exchange;
  private readonly ep: UpstreamEndpoint;
  private readonly stream: http2.ClientHttp2Stream;
  private readonly sentNs = process.hrtime.bigint();
  private responded = false;
  private finished = false;
  private trailers: Record<string, string | string[]> | undefined;

  constructor(ex: Exchange, ep: UpstreamEndpoint, stream: http2.ClientHttp2Stream) {
    this.ex = ex;
    this.ep = ep;
    this.stream = stream;
    stream.on('response', this.onResponse);
    stream.on('data', this.onData);
    stream.on('trailers', this.onTrailers);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
  }

  abort(): void {
    if (!this.stream.destroyed) this.stream.close(NGHTTP2_CANCEL);
  }

  private readonly onResponse = (headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void => {
    const now = process.hrtime.bigint();
    this.ep.observe(Number(now - this.sentNs), now);
    this.responded = true;
    const ex = this.ex;
    const status = Number(headers[':status'] ?? 502);
    ex.status = status;
    const raw = h2ObjectToRaw(headers as Record<string, string | string[] | undefined>);
    if (ex.http2) (ex.res as Http2ServerResponse).writeHead(status, responseHeadersH2(raw));
    else (ex.res as ServerResponse).writeHead(status, responseHeadersH1(raw) as unknown as import('node:http').OutgoingHttpHeaders);
  };

  private readonly onData = (chunk: Buffer): void => {
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
    this.done();
    const res = this.ex.res!;
    if (this.trailers) (res as ServerResponse).addTrailers(this.trailers as Record<string, string>);
    this.ex.ended = true;
    res.end();
  };

  private readonly onError = (err: Error): void => {
    this.done();
    if (this.ex.done) return;
    const { reason, code } = classifyUpstreamError(err, this.responded);
    if (reason === 'upstream-connect-failure') this.ep.observeFailure(process.hrtime.bigint());
    sendProxyError(this.ex, reason, `${this.ex.cluster?.name ?? ''} ${this.ep.hostPort} ${code}`);
  };

  private readonly onClose = (): void => {
    // A stream reset without an error event (RST_STREAM from the upstream).
    if (this.finished || this.ex.done) return;
    this.done();
    sendProxyError(this.ex, 'upstream-reset', `${this.ex.cluster?.name ?? ''} ${this.ep.hostPort} RST_STREAM ${this.stream.rstCode ?? ''}`.trimEnd());
  };

  private done(): void {
    if (this.finished) return;
    this.finished = true;
    this.ep.inflight--;
  }
}

export function forwardHttp2(ex: Exchange, ep: UpstreamEndpoint): void {
  const hasBody = requestHasBody(ex);
  ep.inflight++;
  ep.requests++;
  let stream: http2.ClientHttp2Stream;
  try {
    stream = ep.http2Session().request(upstreamRequestHeadersH2(ex), { endStream: !hasBody });
  } catch (err) {
    ep.inflight--;
    const { code } = classifyUpstreamError(err, false);
    sendProxyError(ex, 'upstream-connect-failure', `${ex.cluster?.name ?? ''} ${ep.hostPort} ${code}`);
    return;
  }
  ex.upstream = new Http2Exchange(ex, ep, stream);
  if (hasBody) {
    const req = ex.req;
    req.on('data', (c: Buffer) => {
      ex.bytesIn += c.length;
    });
    req.pipe(stream);
  }
}
