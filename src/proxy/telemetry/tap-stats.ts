// Stat table of `meshctl tap` on the proxy: how many taps are open and how
// many request lines slow tap readers lost.
import type { StatSpec } from './metrics-registry.ts';

export const TAP_STATS = {
  tap_streams: { type: 'gauge', help: 'Open tap streams on the admin port (meshctl tap).', labels: [] },
  tap_lines_total: { type: 'counter', help: 'Request lines sent to tap streams.', labels: [] },
  tap_dropped_total: { type: 'counter', help: 'Request lines a slow tap reader lost (never buffered without bound).', labels: [] },
} as const satisfies Record<string, StatSpec>;
