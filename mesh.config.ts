// Mesh configuration for the shop example (examples/shop): what each service
// speaks and the policies its callers get. Checked by `meshctl validate`.
import { defineMesh } from './src/shared/mesh-config.ts';

export default defineMesh({
  trustDomain: 'mesh.local',
  defaults: {
    protocol: 'http',
    timeouts: { requestMs: 5000, connectMs: 1000 },
    retries: { attempts: 2 },
    outlierDetection: { consecutiveErrors: 5 },
    mtls: 'permissive',
  },
  services: {
    web: { ports: [8080] },
    product: { ports: [8080], routes: [{ name: 'split', to: [{ version: 'v1', weight: 90 }, { version: 'v2', weight: 10 }] }] },
    order: { ports: [8080], timeouts: { requestMs: 3000 } },
    inventory: { ports: [8080], rateLimit: { requestsPerSecond: 200 } },
    payment: {
      ports: [8080],
      retries: { attempts: 1, on: ['connect-failure', '503'] },
      circuitBreaker: { maxConnections: 100, maxPendingRequests: 50 },
      authz: { rules: [{ name: 'only-orders', from: ['order'] }] },
    },
  },
});
