// Discovery from a JSON file of workloads ({ "workloads": [...] }), for tests
// and for use without Docker. The file is watched; an unreadable or invalid
// version is reported and the last good list kept.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { StaticDiscoveryFile, type Workload } from '../../shared/api.ts';
import type { DiscoverySource, DiscoveryStatus } from './discovery-source.ts';
import { formatIssues } from '../../shared/snapshot.ts';

export class StaticDiscovery implements DiscoverySource {
  #file: string;
  #status: DiscoveryStatus = { kind: 'static', stale: false };
  #onChange?: (w: Workload[]) => void;
  #intervalMs: number;

  constructor(file: string, opts: { intervalMs?: number } = {}) {
    this.#file = file;
    this.#intervalMs = opts.intervalMs ?? 200;
  }

  async start(onChange: (workloads: Workload[]) => void): Promise<void> {
    this.#onChange = onChange;
    this.#load();
    // watchFile polls stat(); it survives editors and tests that replace the file by rename.
    watchFile(this.#file, { interval: this.#intervalMs, persistent: false }, () => this.#load());
  }

  #load(): void {
    try {
      const r = StaticDiscoveryFile.safeParse(JSON.parse(readFileSync(this.#file, 'utf8')));
      if (!r.success) throw new Error(formatIssues(r.error));
      this.#status = { kind: 'static', stale: false, lastEventAt: Date.now() };
      this.#onChange?.(r.data.workloads);
    } catch (err) {
      this.#status = { ...this.#status, stale: true, error: `${this.#file}: ${(err as Error).message}` };
    }
  }

  status(): DiscoveryStatus {
    return { ...this.#status };
  }

  async stop(): Promise<void> {
    unwatchFile(this.#file);
  }
}
