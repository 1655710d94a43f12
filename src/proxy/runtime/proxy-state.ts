// The one mutable reference: the live Runtime, read by every connection when
// it needs config, replaced whole by apply().
import type { Runtime } from './runtime.ts';
import type { ProxyTelemetry } from '../telemetry/proxy-telemetry.ts';

export interface ProxyState {
  runtime: Runtime | undefined;
  readonly telemetry: ProxyTelemetry;
}
