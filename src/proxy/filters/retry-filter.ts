// Upstream attempts: timeouts (request, per-try, idle), retries with backoff,
// budget and endpoint preference, circuit-breaker accounting, outlier
// reports, and one safe retry of the stale keep-alive race. Installed on every
// HTTP route (the breaker and the stale-connection retry need no policy).
// Requests that never reached an app are always safe to send again, whatever
// the method: on inbound listeners a connect failure to a local replica is
// retried on another replica with no policy, and a peer sidecar's own 503
// (x-mesh-error upstream-connect-failure / no-healthy-endpoint) counts as a
// connect failure for the route's retry policy.
import http2 from 'node:http2';
import type { Filter, Handler } from './filter.ts';
import type { Exchange } from '../http/exchange.ts';
import type { AttemptObserver } from '../http/attempt-observer.ts';
import { sendProxyError, type ProxyErrorReason } from '../http/send-proxy-error.ts';
import { requestHasBody } from '../http/request-has-body.ts';
import type { CompiledCluster } from '../clusters/compiled-cluster.ts';
import { CONNECT_TIMEOUT_CODES, type UpstreamEndpoint } from '../clusters/upstream-endpoint.ts';
import { breakerOf, CircuitBreaker } from '../clusters/circuit-breaker.ts';
import { recordOutcome } from '../clusters/outlier-detector.ts';
import { RetryBudget } from '../clusters/retry-budget.ts';
import { backoffMs } from '../clusters/backoff.ts';
import { resilienceStats } from '../telemetry/resilience-stats.ts';
import type { RetryPolicy } from '../../shared/policies.ts';
import type { z } from 'zod';
import { bufferRequestBody } from '../http/buffer-request-body.ts';
import type { Readable } from 'node:stream';

type Retry = z.infer<typeof RetryPolicy>;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
// Resets that mean "the pooled connection was already closed": nothing of the request was processed.
const STALE_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED']);
// At most this many connect-failure retries without a policy (inbound), each on a replica not tried yet.
const MAX_CONNECT_RETRIES = 3;

/** A 503 a mesh proxy made because it could not reach an app: the request was never sent to one. */
export function isProxyRefusal(status: number, meshError: string | undefined): boolean {
  return status === 503 && meshError !== undefined && (meshError.startsWith('upstream-connect-failure') || meshError.startsWith('no-healthy-endpoint'));
}

/** The frozen per-route settings the attempts of one request read. */
interface AttemptPolicy {
  retry: Retry | undefined;
  budget: RetryBudget | undefined;
  on: ReadonlySet<string>;
  retriable4xx: ReadonlySet<number>;
  grpc: ReadonlySet<string>;
  requestMs: number | undefined;
  perTryMs: number | undefined;
  idleMs: number | undefined;
  labels: [string, string, string];
  /** Inbound listener: connect failures to the local replicas are retried without a policy. */
  inbound: boolean;
}

function retriableStatus(p: AttemptPolicy, status: number, grpc: string | undefined): string | undefined {
  const on = p.on;
  if (status >= 500) {
    if (on.has(String(status))) return String(status);
    if (on.has('5xx')) return '5xx';
    if (on.has('gateway-error') && status >= 502 && status <= 504) return String(status);
  } else if (status >= 400) {
    if (on.has('retriable-4xx') && p.retriable4xx.has(status)) return String(status);
  }
  if (grpc !== undefined && on.has('grpc') && p.grpc.has(grpc)) return `grpc-${grpc}`;
  return undefined;
}

function retriableFailure(p: AttemptPolicy, reason: ProxyErrorReason | 'per-try-timeout'): boolean {
  const on = p.on;
  if (reason === 'upstream-connect-failure') return on.has('connect-failure') || on.has('5xx') || on.has('gateway-error') || on.has('503');
  // A reset or a per-try timeout reads as a gateway error (Envoy does the same).
  return on.has('reset') || on.has('5xx') || on.has('gateway-error') || (reason === 'per-try-timeout' && on.has('504'));
}

interface Ticket {
  breaker: CircuitBreaker;
  pending: boolean;
}

class Attempts implements AttemptObserver {
  private readonly ex: Exchange;
  private readonly p: AttemptPolicy;
  private readonly next: Handler;
  private n = 0;
  /** The body can be sent again (none, or buffered whole). */
  private resendable: boolean;
  private staleRetried = false;
  private connectRetries = 0;
  // Circuit-breaker slot of the latest attempt (fields, not an object: one per request on the hot path),
  // and of earlier attempts still finishing.
  private ticketAttempt = -1;
  private ticketBreaker: CircuitBreaker | undefined;
  private ticketPending = false;
  private olderTickets: Map<number, Ticket> | undefined;
  private perTry: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private idle: NodeJS.Timeout | undefined;
  /** Bytes moved at the last idle check. */
  private idleLast = -1;
  private answered = false;

  constructor(ex: Exchange, p: AttemptPolicy, next: Handler, resendable: boolean) {
    this.ex = ex;
    this.p = p;
    this.next = next;
    this.resendable = resendable;
  }

  start(): void {
    if (this.p.requestMs) this.deadline = setTimeout(Attempts.requestTimeout, this.p.requestMs, this);
    this.attempt();
  }

  private attempt(): void {
    const ex = this.ex;
    if (ex.done || ex.ended) return; // answered meanwhile (request timeout during a backoff)
    this.n++;
    ex.attempts = this.n;
    ex.attempt++;
    ex.bytesIn = 0;
    // x-mesh-attempts goes into the head the forwarder or sendProxyError writes (a setHeader() here
    // would push every writeHead of the exchange onto Node's slower merge path).
    if (this.p.retry !== undefined || this.n > 1) ex.attemptsHeader = String(this.n);
    if (this.p.perTryMs) this.perTry = setTimeout(Attempts.perTryTimeout, this.p.perTryMs, this);
    this.next(ex);
  }

  admit(cluster: CompiledCluster, ep: UpstreamEndpoint): string | undefined {
    const breaker = breakerOf(cluster);
    const pending = CircuitBreaker.wouldWait(cluster, ep);
    const refused = breaker.refusal(cluster, pending);
    if (refused !== undefined) {
      this.answer();
      return refused;
    }
    breaker.active++;
    if (pending) breaker.pending++;
    if (this.ticketBreaker !== undefined) (this.olderTickets ??= new Map()).set(this.ticketAttempt, { breaker: this.ticketBreaker, pending: this.ticketPending });
    this.ticketAttempt = this.ex.attempt;
    this.ticketBreaker = breaker;
    this.ticketPending = pending;
    return undefined;
  }

  started(attempt: number): void {
    if (attempt === this.ticketAttempt) {
      if (this.ticketPending) {
        this.ticketPending = false;
        this.ticketBreaker!.pending--;
      }
      return;
    }
    const t = this.olderTickets?.get(attempt);
    if (t?.pending) {
      t.pending = false;
      t.breaker.pending--;
    }
  }

  finished(attempt: number): void {
    // The answered attempt is over: its idle watch goes (a live timer per finished request adds up).
    if (this.idle !== undefined && attempt === this.ex.attempt) {
      clearTimeout(this.idle);
      this.idle = undefined;
    }
    if (attempt === this.ticketAttempt && this.ticketBreaker !== undefined) {
      const b = this.ticketBreaker;
      b.active--;
      if (this.ticketPending) b.pending--;
      this.ticketBreaker = undefined;
      this.ticketAttempt = -1;
      return;
    }
    const t = this.olderTickets?.get(attempt);
    if (t === undefined) return;
    this.olderTickets!.delete(attempt);
    t.breaker.active--;
    if (t.pending) t.breaker.pending--;
  }

  response(status: number, grpc: string | undefined, meshError?: string): boolean {
    const ex = this.ex;
    clearTimeout(this.perTry);
    if (ex.cluster !== undefined && ex.endpoint !== undefined) recordOutcome(ex.cluster, ex.endpoint, status < 500, ex.telemetry);
    if (this.p.retry !== undefined) {
      // The peer sidecar could not reach any app replica: as safe as our own connect failure, any method.
      if (isProxyRefusal(status, meshError) && retriableFailure(this.p, 'upstream-connect-failure') && this.mayRetry(true)) {
        this.retry('connect-failure', true);
        return true;
      }
      const why = retriableStatus(this.p, status, grpc);
      if (why !== undefined && this.mayRetry()) {
        this.retry(why, true);
        return true;
      }
    }
    this.answer();
    if (this.p.idleMs) this.watchIdle(this.p.idleMs);
    return false;
  }

  failed(reason: ProxyErrorReason, code: string, responded: boolean): boolean {
    const ex = this.ex;
    clearTimeout(this.perTry);
    if (ex.cluster !== undefined && ex.endpoint !== undefined) recordOutcome(ex.cluster, ex.endpoint, false, ex.telemetry);
    if (responded) return false; // part of the response is out: nothing to retry
    // Inbound: the local replica refused the connection (stopping, starting): the request was never sent,
    // so another replica gets it, whatever the method (Linkerd and Envoy do the same).
    if (reason === 'upstream-connect-failure' && this.p.inbound && this.connectRetries < Math.min(MAX_CONNECT_RETRIES, (ex.cluster?.endpoints.length ?? 1) - 1) && !ex.done && !this.answered && this.bodyUntouched()) {
      this.connectRetries++;
      this.retry('connect-failure', false);
      return true;
    }
    if (this.p.retry !== undefined && retriableFailure(this.p, reason) && this.mayRetry()) {
      this.retry(reason === 'upstream-connect-failure' ? 'connect-failure' : 'reset', true);
      return true;
    }
    // The stale keep-alive race: the pooled connection was closed by the upstream just as we
    // reused it, before any response byte. Safe to send once more when the request can be resent.
    if (reason === 'upstream-reset' && !this.staleRetried && STALE_CODES.has(code) && this.resendable && this.idempotent()) {
      this.staleRetried = true;
      this.retry('stale-connection', false);
      return true;
    }
    this.answer();
    if (CONNECT_TIMEOUT_CODES.has(code)) {
      this.countTimeout('connect');
      sendProxyError(ex, 'timeout', `connect ${ex.cluster?.name ?? ''} ${ex.endpoint?.hostPort ?? ''} ${code}`);
      return true;
    }
    return false;
  }

  /** The request body can go again: none, buffered, or a stream nothing has read yet (a connect failure). */
  private bodyUntouched(): boolean {
    return this.resendable || !(this.ex.req as unknown as Readable).readableDidRead;
  }

  private idempotent(): boolean {
    return IDEMPOTENT.has(this.ex.req.method ?? 'GET');
  }

  /** Whether one more attempt may go; counts why not when a retry was wanted. `neverSent`: no app saw it, any method goes. */
  private mayRetry(neverSent = false): boolean {
    const ex = this.ex;
    const r = this.p.retry!;
    if (ex.done || this.answered) return false;
    let skip: string | undefined;
    if (this.n > r.attempts) skip = 'attempts';
    else if (!neverSent && !r.retryNonIdempotent && !this.idempotent()) skip = 'non-idempotent';
    else if (!this.resendable) skip = 'body-too-large';
    else if (!this.p.budget!.tryRetry()) skip = 'budget';
    if (skip === undefined) return true;
    if (ex.telemetry !== undefined) resilienceStats(ex.telemetry).retries_skipped_total.with(...this.p.labels, skip).value++;
    return false;
  }

  private retry(reason: string, backoff: boolean): void {
    const ex = this.ex;
    if (ex.telemetry !== undefined) resilienceStats(ex.telemetry).retries_total.with(...this.p.labels, ex.cluster?.name ?? '', reason).value++;
    // The failed attempt is stale from here on; a retry prefers another endpoint.
    ex.attempt++;
    if (ex.endpoint !== undefined && reason !== 'stale-connection') (ex.avoid ??= []).push(ex.endpoint);
    const r = this.p.retry;
    const delay = backoff && r !== undefined ? backoffMs(this.n, r.backoff.baseMs, r.backoff.maxMs) : 0;
    if (delay === 0) setImmediate(() => this.attempt());
    else setTimeout(() => this.attempt(), delay);
  }

  /** The current attempt's outcome goes to the client: no more timers before the response head. */
  private answer(): void {
    this.answered = true;
    clearTimeout(this.perTry);
    clearTimeout(this.deadline);
  }

  private abandon(): void {
    const ex = this.ex;
    ex.attempt++;
    ex.upstream?.abort(new Error('timeout'));
  }

  private countTimeout(kind: string): void {
    const ex = this.ex;
    if (ex.telemetry !== undefined) resilienceStats(ex.telemetry).timeouts_total.with(...this.p.labels, kind).value++;
  }

  // Timer callbacks are static and get the Attempts as their argument: no closure per request.
  private static perTryTimeout(a: Attempts): void {
    a.onPerTryTimeout();
  }

  private static requestTimeout(a: Attempts): void {
    a.onRequestTimeout();
  }

  private onPerTryTimeout(): void {
    const ex = this.ex;
    if (ex.done || ex.ended || this.answered) return;
    this.countTimeout('per-try');
    if (ex.cluster !== undefined && ex.endpoint !== undefined) recordOutcome(ex.cluster, ex.endpoint, false, ex.telemetry);
    const where = `${ex.cluster?.name ?? ''} ${ex.endpoint?.hostPort ?? ''}`;
    this.abandon();
    if (this.p.retry !== undefined && retriableFailure(this.p, 'per-try-timeout') && this.mayRetry()) {
      // abandon() already made the attempt stale; retry() bumps it again, which is harmless.
      this.retry('per-try-timeout', true);
      return;
    }
    this.answer();
    sendProxyError(ex, 'timeout', `per-try ${this.p.perTryMs}ms ${where}`);
  }

  private onRequestTimeout(): void {
    const ex = this.ex;
    if (ex.done || ex.ended || this.answered) return;
    this.countTimeout('request');
    this.answer();
    const where = `${ex.cluster?.name ?? ''} ${ex.endpoint?.hostPort ?? ''}`.trim();
    this.abandon();
    sendProxyError(ex, 'timeout', `request ${this.p.requestMs}ms${where ? ` ${where}` : ''} after ${this.n} attempt${this.n === 1 ? '' : 's'}`);
  }

  /** Streams: cut the exchange when no byte moved either way for idleMs. */
  private watchIdle(ms: number): void {
    this.idleLast = -1;
    this.idle = setTimeout(Attempts.idleTick, ms, this, ms);
  }

  private static idleTick(a: Attempts, ms: number): void {
    const ex = a.ex;
    if (ex.done || ex.ended) return;
    const moved = ex.bytesIn + ex.bytesOut;
    if (moved !== a.idleLast) {
      a.idleLast = moved;
      a.idle = setTimeout(Attempts.idleTick, ms, a, ms);
      return;
    }
    a.idle = undefined;
    a.countTimeout('idle');
    ex.error = `timeout idle ${ms}ms ${ex.cluster?.name ?? ''} ${ex.endpoint?.hostPort ?? ''}`.trimEnd();
    a.abandon(); // the upstream's abort error must not overwrite the reason
    const res = ex.res!;
    if (ex.http2) (res as import('../listeners/h2-stream-exchange.ts').H2StreamResponse).stream.close(http2.constants.NGHTTP2_CANCEL);
    else res.destroy();
  }

}

function attemptPolicy(
  retry: Retry | undefined,
  timeouts: { requestMs?: number; perTryMs?: number; idleMs?: number } | undefined,
  labels: [string, string, string],
  inbound: boolean,
): AttemptPolicy {
  return {
    retry,
    budget: retry ? new RetryBudget(retry.budget.ratio, retry.budget.minPerSecond) : undefined,
    on: new Set(retry?.on ?? []),
    retriable4xx: new Set(retry?.retriable4xx ?? []),
    grpc: new Set((retry?.grpcStatuses ?? []).map(String)),
    requestMs: timeouts?.requestMs || undefined,
    perTryMs: retry?.perTryTimeoutMs || timeouts?.perTryMs || undefined,
    idleMs: timeouts?.idleMs || undefined,
    labels,
    inbound,
  };
}

/**
 * A non-idempotent request is kept for a retry only when a peer sidecar's refusal may come back (then no
 * app saw it): only a whole body of known length (a streamed body, a gRPC stream, 100-continue is never held).
 */
function bufferable(ex: Exchange): boolean {
  const h = ex.req.headers;
  return h['content-length'] !== undefined && h['expect'] === undefined;
}

export const retryFilter: Filter = (next, ctx) => {
  const route = ctx.route;
  const spec = route.spec;
  // Route timeouts win over the listener's, field by field.
  const timeouts = { ...ctx.listener.spec.timeouts, ...spec.timeouts };
  const p = attemptPolicy(spec.retries, timeouts, [ctx.listener.direction, ctx.listener.name, route.name], ctx.listener.direction === 'inbound');
  // Only a policy that retries connect failures can resend a non-idempotent request (after a peer's refusal).
  const holdNonIdempotent = p.retry !== undefined && retriableFailure(p, 'upstream-connect-failure');
  return (ex) => {
    // Upgrades are piped raw: no attempts to watch.
    if (ex.socket !== undefined || ex.res === undefined) {
      next(ex);
      return;
    }
    const hasBody = requestHasBody(ex);
    const r = p.retry;
    if (r !== undefined) p.budget!.recordRequest();
    if (!hasBody || r === undefined || (!r.retryNonIdempotent && !IDEMPOTENT.has(ex.req.method ?? 'GET') && !(holdNonIdempotent && bufferable(ex)))) {
      const a = new Attempts(ex, p, next, !hasBody);
      ex.attemptObserver = a;
      a.start();
      return;
    }
    // A retriable request with a body: keep up to maxBodyBytes so it can be sent again.
    bufferRequestBody(ex, r.maxBodyBytes, (whole) => {
      if (ex.done) return;
      const a = new Attempts(ex, p, next, whole);
      ex.attemptObserver = a;
      a.start();
    });
  };
};
