// Stats for mutual TLS and authorization, declared in one table so tests and
// dashboards can rely on the names: who still sends plaintext, which
// handshakes fail and why, how often sidecars resume instead of handshaking.
import type { StatSpec } from './metrics-registry.ts';

export const TLS_STATS = {
  tls_inbound_connections_total: {
    type: 'counter',
    help: 'Connections on an mTLS listener by outcome: mtls, plaintext (permissive, accepted), plaintext_refused (strict), handshake_failed.',
    labels: ['listener', 'outcome'],
  },
  tls_handshake_failures_total: {
    type: 'counter',
    help: 'Inbound TLS handshakes refused, by reason (ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE, UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED, ...).',
    labels: ['listener', 'reason'],
  },
  tls_handshakes_total: {
    type: 'counter',
    help: 'Inbound mTLS handshakes completed on a listener, full (resumed="false") or resumed from a session ticket; compare with new app connections upstream.',
    labels: ['listener', 'resumed'],
  },
  tls_client_handshakes_total: {
    type: 'counter',
    help: 'Outbound sidecar-to-sidecar TLS handshakes, full or resumed.',
    labels: ['cluster', 'resumed'],
  },
  authz_decisions_total: {
    type: 'counter',
    help: 'Authorization decisions on inbound traffic: allowed, denied, audit_denied (audit mode, would deny).',
    labels: ['listener', 'kind', 'decision', 'rule'],
  },
} as const satisfies Record<string, StatSpec>;
