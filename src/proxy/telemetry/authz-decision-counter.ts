// Counts authorization decisions (mesh_authz_decisions_total) for inbound HTTP
// requests and opaque TCP connections alike. The series of each listener,
// kind, decision and rule is looked up once and kept, so a decision costs a
// map lookup on a string the compiled policy already holds, not a label join.
import type { MetricFamily, Series } from './metrics-registry.ts';

export type AuthzDecision = 'allowed' | 'denied' | 'audit_denied';

export class AuthzDecisionCounter {
  private readonly family: MetricFamily;
  private readonly listener: string;
  private readonly kind: 'http' | 'tcp';
  private readonly series: Record<AuthzDecision, Map<string, Series>> = { allowed: new Map(), denied: new Map(), audit_denied: new Map() };

  constructor(family: MetricFamily, listener: string, kind: 'http' | 'tcp') {
    this.family = family;
    this.listener = listener;
    this.kind = kind;
  }

  count(decision: AuthzDecision, rule: string): void {
    const m = this.series[decision];
    let s = m.get(rule);
    if (s === undefined) m.set(rule, (s = this.family.with(this.listener, this.kind, decision, rule)));
    s.value++;
  }
}

// One counter per family and listener name for opaque TCP (the listener server asks per connection).
const tcpCounters = new WeakMap<MetricFamily, Map<string, AuthzDecisionCounter>>();

export function tcpAuthzCounter(family: MetricFamily, listener: string): AuthzDecisionCounter {
  let byListener = tcpCounters.get(family);
  if (byListener === undefined) tcpCounters.set(family, (byListener = new Map()));
  let c = byListener.get(listener);
  if (c === undefined) byListener.set(listener, (c = new AuthzDecisionCounter(family, listener, 'tcp')));
  return c;
}
