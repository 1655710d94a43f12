// Stat table of span export over OTLP/HTTP: what was sent, what was lost and
// why (a full queue, a failed export), so a broken collector shows in /metrics.
import type { StatSpec } from './metrics-registry.ts';

export const TRACING_STATS = {
  spans_exported_total: { type: 'counter', help: 'Spans the OTLP endpoint accepted.', labels: [] },
  spans_dropped_total: {
    type: 'counter',
    help: 'Spans lost, by reason: queue_full (the exporter was behind), export_failed (the OTLP endpoint failed or did not answer).',
    labels: ['reason'],
  },
  span_exports_total: { type: 'counter', help: 'OTLP export requests by result (ok, failed).', labels: ['result'] },
  span_queue_length: { type: 'gauge', help: 'Spans waiting for the next export.', labels: [] },
} as const satisfies Record<string, StatSpec>;
