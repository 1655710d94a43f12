// What every discovery source (Docker, static file) offers the controller.
import type { Workload } from '../../shared/api.ts';

export interface DiscoveryStatus {
  kind: string;
  /** True when the source may be missing changes (stream down, file unreadable). */
  stale: boolean;
  lastEventAt?: number;
  error?: string;
}

export interface DiscoverySource {
  /** Starts watching; onChange gets the full, current list after each change. */
  start(onChange: (workloads: Workload[]) => void): Promise<void>;
  status(): DiscoveryStatus;
  stop(): Promise<void>;
}
