// Per-request state: one object per request carried through the filters to
// the upstream and back to telemetry. Policy lives on the compiled route;
// only what varies per request lives here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { H2StreamRequest, H2StreamResponse } from '../listeners/h2-stream-exchange.ts';
import type { Duplex } from 'node:stream';
import type { CompiledListener } from '../runtime/compiled-listener.ts';
import type { CompiledRoute } from '../routing/route-table.ts';
import type { CompiledCluster } from '../clusters/compiled-cluster.ts';
import type { UpstreamEndpoint } from '../clusters/upstream-endpoint.ts';
import type { ProxyTelemetry } from '../telemetry/proxy-telemetry.ts';
import type { AttemptObserver } from './attempt-observer.ts';
import type { Readable } from 'node:stream';

export type DownstreamRequest = IncomingMessage | H2StreamRequest;
export type DownstreamResponse = ServerResponse | H2StreamResponse;

/** Something that can cancel the upstream side of an exchange. */
export interface UpstreamCancel {
  abort(reason?: Error): void;
}

export class Exchange {
  readonly req: DownstreamRequest;
  /** The response, or undefined for an Upgrade (then `socket` is set). */
  readonly res: DownstreamResponse | undefined;
  readonly socket: Duplex | undefined;
  readonly head: Buffer | undefined;
  readonly listener: CompiledListener;
  readonly startNs: bigint;
  readonly startMs: number;
  readonly http2: boolean;
  /** Host / :authority, lowercase, without port. */
  host = '';
  path = '';
  route: CompiledRoute | undefined;
  cluster: CompiledCluster | undefined;
  endpoint: UpstreamEndpoint | undefined;
  /** Headers filters add to the upstream request, as a flat [name, value, ...] list. */
  readonly extraHeaders: string[] = [];
  status = 0;
  bytesIn = 0;
  bytesOut = 0;
  error: string | undefined;
  traceId: string | undefined;
  /** This hop's span when span export samples the request (telemetry/span-context.ts). */
  span: import('../telemetry/span-context.ts').HopSpan | undefined;
  upstream: UpstreamCancel | undefined;
  telemetry: ProxyTelemetry | undefined;
  /** The verified caller on an mTLS listener (set by the peer-identity filter); undefined for plaintext. */
  peer: import('../identity/peer-identity.ts').PeerIdentity | undefined;
  /** Audit mode: the rule that would have denied this request. */
  authzAudit: string | undefined;
  /** Resilience (retry filter): watches each upstream attempt; `attempt` bumps when one is abandoned. */
  attemptObserver: AttemptObserver | undefined;
  attempt = 0;
  /** Upstream attempts made (access log). */
  attempts = 0;
  /** Value of the x-mesh-attempts response header, when the route retries or a retry happened. */
  attemptsHeader: string | undefined;
  /** Request body to send instead of `req` (buffered for retries). */
  body: Buffer | Readable | undefined;
  /** Endpoints already tried: a retry prefers another one. */
  avoid: UpstreamEndpoint[] | undefined;
  /** "from>to" when a failover destination served the request. */
  failover: string | undefined;
  /** The proxy finished writing the response (end() called). */
  ended = false;
  done = false;

  constructor(listener: CompiledListener, req: DownstreamRequest, res: DownstreamResponse | undefined, socket?: Duplex, head?: Buffer) {
    this.listener = listener;
    this.req = req;
    this.res = res;
    this.socket = socket;
    this.head = head;
    this.http2 = req.httpVersionMajor === 2;
    this.startNs = process.hrtime.bigint();
    this.startMs = Date.now();
  }
}
