// The order of the HTTP filters, written down in one place. Filters are looked
// up by name; the next issues insert authz, rate limit, fault, timeout and
// retry here (in that order, before the upstream call).
import type { Filter, FilterContext, Handler } from './filter.ts';
import { traceContextFilter } from './trace-context-filter.ts';
import { authzFilter } from './authz-filter.ts';
import { routeToUpstream } from './route-to-upstream.ts';
import { rateLimitFilter } from './rate-limit-filter.ts';
import { faultFilter } from './fault-filter.ts';
import { retryFilter } from './retry-filter.ts';
import { mirrorFilter } from './mirror-filter.ts';
import { headerPropagationFilter } from './header-propagation-filter.ts';

export const FILTERS: Record<string, Filter> = {
  'trace-context': traceContextFilter,
  'header-propagation': headerPropagationFilter, // after trace-context: keyed by the trace id it read
  authz: authzFilter,
  'rate-limit': rateLimitFilter,
  fault: faultFilter,
  retry: retryFilter, // timeouts, retries, circuit breaking, outlier reports
  mirror: mirrorFilter, // innermost: sees a body the retry filter buffered, copies the first attempt only
};

/** Outermost first. */
export const FILTER_ORDER: readonly string[] = ['authz', 'trace-context', 'header-propagation', 'rate-limit', 'fault', 'retry', 'mirror'];

export function composeFilters(ctx: FilterContext, order: readonly string[] = FILTER_ORDER, terminal: Handler = routeToUpstream): Handler {
  let handler = terminal;
  for (let i = order.length - 1; i >= 0; i--) {
    const f = FILTERS[order[i]!];
    if (!f) throw new Error(`unknown filter "${order[i]}"`);
    handler = f(handler, ctx);
  }
  return handler;
}
