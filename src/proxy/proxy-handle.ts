// The proxy's public face, used by `meshctl proxy`, the controller's
// config-client and the tests. The implementation is startProxy() in
// proxy.ts; this file only names the contract.
import type { Snapshot } from '../shared/snapshot.ts';

export type ApplyResult =
  | { ok: true; changed: boolean; version: number; hash: string }
  | { ok: false; error: string; issues: string[] };

export interface ProxyOptions {
  /** Admin server address; port 0 picks a free port. Omit for no admin server. */
  admin?: { host: string; port: number };
  /** When set, the admin /tap asks for it as a bearer token (the service's MESH_TOKEN). */
  adminToken?: string;
  /** Where JSON access-log lines go (default: process.stdout). */
  accessLog?: NodeJS.WritableStream;
  /** First snapshot (validated like any other); the proxy is not ready until one applies. */
  snapshot?: unknown;
  /** Certificate and key for mTLS listeners and clusters (WorkloadIdentity.start, or identityFromFiles). */
  identity?: import('./identity/workload-identity.ts').WorkloadIdentity;
}

export interface ProxyHandle {
  /** Validate, compile, swap. Identical content: changed=false, nothing touched. */
  apply(input: unknown): Promise<ApplyResult>;
  /** The live snapshot, if any. */
  current(): Snapshot | undefined;
  /** Bound address of each listener by name (useful with port 0). */
  listenerAddress(name: string): { address: string; port: number } | undefined;
  /** Bound admin address. */
  adminAddress(): { address: string; port: number } | undefined;
  /** Stop accepting, finish in-flight work for up to drainMs, then close. */
  drain(drainMs?: number): Promise<void>;
  /** Close everything now. */
  close(): Promise<void>;
}
