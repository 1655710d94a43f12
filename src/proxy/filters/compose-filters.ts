// The order of the HTTP filters, written down in one place. Filters are looked
// up by name; the next issues insert authz, rate limit, fault, timeout and
// retry here (in that order, before the upstream call).
import type { Filter, FilterContext, Handler } from './filter.ts';
import { traceContextFilter } from './trace-context-filter.ts';
import { routeToUpstream } from './route-to-upstream.ts';

export const FILTERS: Record<string, Filter> = {
  'trace-context': traceContextFilter,
};

/** Outermost first. */
export const FILTER_ORDER: readonly string[] = ['trace-context'];

export function composeFilters(ctx: FilterContext, order: readonly string[] = FILTER_ORDER, terminal: Handler = routeToUpstream): Handler {
  let handler = terminal;
  for (let i = order.length - 1; i >= 0; i--) {
    const f = FILTERS[order[i]!];
    if (!f) throw new Error(`unknown filter "${order[i]}"`);
    handler = f(handler, ctx);
  }
  return handler;
}
