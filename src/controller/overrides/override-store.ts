// Runtime overrides (canary weights, faults, extra routes) set from the CLI,
// persisted as JSON in the state folder so they survive a controller restart.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeAtomic } from '../../shared/write-atomic.ts';
import { join } from 'node:path';
import { Overrides, type OverridePut } from '../../shared/api.ts';
import { MeshError } from '../../shared/errors.ts';
import { formatIssues } from '../../shared/snapshot.ts';

export class OverrideStore {
  #file: string;
  #value: Overrides;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.#file = join(stateDir, 'overrides.json');
    this.#value = existsSync(this.#file) ? OverrideStore.#read(this.#file) : { services: {} };
  }

  static #read(file: string): Overrides {
    const r = Overrides.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!r.success) {
      throw new MeshError('MESH_ERR_CONFIG_INVALID', `${file}: ${formatIssues(r.error)}`, `fix or delete ${file}`);
    }
    return r.data;
  }

  get(): Overrides {
    return structuredClone(this.#value);
  }

  put(body: OverridePut): Overrides {
    const { service, ...rest } = body;
    return this.#save({ services: { ...this.#value.services, [service]: rest } });
  }

  /** Clear one service's override, or all of them. */
  clear(service?: string): Overrides {
    if (!service) return this.#save({ services: {} });
    const { [service]: _gone, ...keep } = this.#value.services;
    return this.#save({ services: keep });
  }

  #save(next: Overrides): Overrides {
    writeAtomic(this.#file, JSON.stringify(next, null, 2) + '\n');
    this.#value = next;
    return this.get();
  }
}
