// Rollouts persisted in state-dir/canary.json (write + rename), so a
// controller restart resumes each rollout at the step it was on.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeAtomic } from '../../shared/write-atomic.ts';
import { join } from 'node:path';
import { CanaryFile, type CanaryStatus } from '../../shared/canary.ts';
import { MeshError } from '../../shared/errors.ts';
import { formatIssues } from '../../shared/snapshot.ts';

export class CanaryStore {
  #file: string;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.#file = join(stateDir, 'canary.json');
  }

  load(): Map<string, CanaryStatus> {
    if (!existsSync(this.#file)) return new Map();
    const r = CanaryFile.safeParse(JSON.parse(readFileSync(this.#file, 'utf8')));
    if (!r.success) {
      throw new MeshError('MESH_ERR_CONFIG_INVALID', `${this.#file}: ${formatIssues(r.error)}`, `fix or delete ${this.#file}`);
    }
    return new Map(Object.entries(r.data.rollouts));
  }

  save(rollouts: Map<string, CanaryStatus>): void {
    writeAtomic(this.#file, JSON.stringify({ rollouts: Object.fromEntries(rollouts) }, null, 2) + '\n');
  }
}
