// Request mirroring (shadowing): a share of a route's requests is copied,
// fire-and-forget, to the route's mirror cluster; the copy's answer is read and
// dropped. The real request is never delayed or failed by it: the copy starts
// beside it and nothing waits for it. Only requests whose whole body is at hand
// are copied: bodiless ones (GET, HEAD, DELETE ...) and bodies the retry filter
// buffered (routes with a retry policy, up to its maxBodyBytes); a streamed body
// is not copied (`mesh_mirror_skipped_total{reason="body"}`), since teeing it would
// tie the real request's pace to the copy's. Runs innermost, on the first attempt only.
import http2 from 'node:http2';
import type { Filter } from './filter.ts';
import type { Exchange } from '../http/exchange.ts';
import type { CompiledCluster } from '../clusters/compiled-cluster.ts';
import type { UpstreamEndpoint } from '../clusters/upstream-endpoint.ts';
import type { H1Call, H1Handler } from '../clusters/h1-pool.ts';
import { pickEndpoint } from '../clusters/pick-endpoint.ts';
import { requestHasBody } from '../http/request-has-body.ts';
import { upstreamRequestHeaders, upstreamRequestHeadersH2 } from '../http/upstream-request-headers.ts';
import { mirrorStats } from './mirror-stats.ts';

// Copies in flight per route: a slow mirror target must not pile up sockets and memory.
export const MAX_MIRRORS_IN_FLIGHT = 64;
const MIRROR_TIMEOUT_MS = 10_000;
/** Set on every copy, so the target (and its logs) can tell a copy from real traffic. */
export const MIRROR_HEADER = 'x-mesh-mirror';

type Labels = readonly [string, string, string];
type Done = (responseClass: string) => void;

export const mirrorFilter: Filter = (next, ctx) => {
  const spec = ctx.route.spec.mirror;
  const cluster = spec && ctx.clusters?.get(spec.cluster);
  if (spec === undefined || cluster === undefined || spec.percent <= 0) return next;
  const share = spec.percent / 100;
  const labels: Labels = [ctx.listener.direction, ctx.listener.name, ctx.route.name];
  const state = { inflight: 0 };
  return (ex) => {
    // Upgrades are piped raw and never copied; a retried attempt was copied already.
    if (ex.socket === undefined && ex.attempts <= 1 && (share >= 1 || Math.random() < share)) mirror(ex, cluster, state, labels);
    next(ex);
  };
};

function mirror(ex: Exchange, cluster: CompiledCluster, state: { inflight: number }, labels: Labels): void {
  const t = ex.telemetry;
  const skip = (reason: string) => {
    if (t !== undefined) mirrorStats(t).mirror_skipped_total.with(...labels, reason).value++;
  };
  const body = Buffer.isBuffer(ex.body) ? ex.body : undefined;
  if (body === undefined && requestHasBody(ex)) return skip('body');
  if (state.inflight >= MAX_MIRRORS_IN_FLIGHT) return skip('overload');
  const ep = pickEndpoint(cluster, undefined);
  if (ep === undefined) return skip('no-endpoint');
  state.inflight++;
  const startNs = process.hrtime.bigint();
  const version = cluster.versionOf(ep);
  let finished = false;
  const done: Done = (responseClass) => {
    if (finished) return;
    finished = true;
    state.inflight--;
    if (t === undefined) return;
    const s = mirrorStats(t);
    s.mirror_responses_total.with(...labels, cluster.name, version, responseClass).value++;
    s.mirror_duration_seconds.with(...labels, cluster.name, version).observe(Number(process.hrtime.bigint() - startNs) / 1e9);
  };
  try {
    if (cluster.protocol === 'http2') copyH2(ex, ep, body, done);
    else copyH1(ex, ep, body, done);
  } catch {
    done('error');
  }
}

const classOf = (status: number) => `${Math.floor(status / 100)}xx`;

function copyH1(ex: Exchange, ep: UpstreamEndpoint, body: Buffer | undefined, done: Done): void {
  const headers = upstreamRequestHeaders(ex, false);
  headers.push(MIRROR_HEADER, '1');
  let status = 0;
  let call: H1Call | undefined;
  const timer = setTimeout(() => call?.abort(new Error('mirror timeout')), MIRROR_TIMEOUT_MS);
  timer.unref();
  // The endpoint's own keep-alive pool (the forwarder's): read the answer, drop it.
  const handler: H1Handler = {
    onRequestStart: () => {},
    onBodySent: () => {},
    onResponseStart: (_c, statusCode) => void (status = statusCode),
    onResponseData: () => {},
    onResponseEnd: () => {
      clearTimeout(timer);
      done(classOf(status));
    },
    onResponseError: () => {
      clearTimeout(timer);
      done('error');
    },
  };
  call = ep.h1Pool().dispatch({ path: ex.req.url ?? '/', method: ex.req.method ?? 'GET', headers, body: body ?? null }, handler);
}

function copyH2(ex: Exchange, ep: UpstreamEndpoint, body: Buffer | undefined, done: Done): void {
  const headers = upstreamRequestHeadersH2(ex);
  headers[MIRROR_HEADER] = '1';
  const stream = ep.http2Session().request(headers, { endStream: body === undefined });
  let status = 0;
  stream.setTimeout(MIRROR_TIMEOUT_MS, () => stream.close(http2.constants.NGHTTP2_CANCEL));
  stream.on('response', (h) => (status = Number(h[':status']) || 0));
  stream.on('error', () => {});
  stream.on('close', () => done(status && stream.rstCode === http2.constants.NGHTTP2_NO_ERROR ? classOf(status) : 'error'));
  stream.resume();
  if (body !== undefined) stream.end(body);
}
