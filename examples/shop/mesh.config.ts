// Mesh policies for the shop. No runtime imports: the controller loads this
// file inside its container, where only the file itself is mounted (the
// `import type` is erased by Node's type stripping).
import type { MeshConfigInput } from '../../src/shared/mesh-config.ts';

export default {
  defaults: {
    protocol: 'http',
    timeouts: { requestMs: 5000, connectMs: 1000 },
    // No outlierDetection: every caller-side cluster has one endpoint (the callee's sidecar), so
    // ejecting it would gain nothing (the proxy routes to an all-ejected cluster anyway).
  },
  services: {
    web: { ports: [8080] },
    product: { ports: [8080] },
    order: { ports: [8080], timeouts: { requestMs: 8000 } },
    // Both are POSTs, which the proxy never retries unless told (retryNonIdempotent).
    // A reservation that never reached inventory (connect failure) is safe to send again.
    inventory: { ports: [8080], retries: { attempts: 2, on: ['connect-failure'], retryNonIdempotent: true } },
    // A charge carries an Idempotency-Key and payment fails before charging, so 5xx are retried too.
    payment: { ports: [8080], retries: { attempts: 3, on: ['connect-failure', 'reset', '5xx'], retryNonIdempotent: true } },
  },
} satisfies MeshConfigInput;
