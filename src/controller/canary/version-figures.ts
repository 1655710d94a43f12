// What the rollout engine reads: cumulative request counters per version of a
// service (inbound side, summed over that service's proxies). The metrics
// scraper implements it from the proxies' `destination_version` label; tests
// give fixed figures.
import type { VersionTotals } from '../../shared/canary.ts';

export interface VersionFigures {
  /** Version → cumulative totals; undefined while there is no scrape to read (controller just started). */
  totals(service: string): Record<string, VersionTotals> | undefined;
  /**
   * Scrapes the service's proxies now and answers the totals then. With it, a step's window starts when the
   * step's weights are in place and ends at the check, instead of at the last periodic scrape before either.
   */
  fresh?(service: string): Promise<Record<string, VersionTotals> | undefined>;
}
