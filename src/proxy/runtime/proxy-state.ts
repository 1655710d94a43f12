// The one mutable reference: the live Runtime, read by every connection when
// it needs config, replaced whole by apply().
import type { Runtime } from './runtime.ts';
import type { ProxyTelemetry } from '../telemetry/proxy-telemetry.ts';
import type { WorkloadIdentity } from '../identity/workload-identity.ts';

export interface ProxyState {
  runtime: Runtime | undefined;
  readonly telemetry: ProxyTelemetry;
  /** This proxy's certificate and key (mTLS listeners and clusters); absent without a signer. */
  readonly identity?: WorkloadIdentity;
}
