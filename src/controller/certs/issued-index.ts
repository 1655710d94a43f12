// The CA's record of what it issued: the last leaf per proxy (serial, service,
// proxy id, validity, issuer, generation) and the current leaf generation, in
// <stateDir>/ca/issued.json (0600, written via rename). Certificates' public
// facts only: no key, no PEM. Reloaded at start, so `meshctl certs` and a root
// rotation's progress survive a controller restart.
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import { chmod, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { MeshError } from '../../shared/errors.ts';

export const IssuedLeaf = z
  .object({
    service: z.string(),
    proxyId: z.string().optional(),
    spiffeId: z.string(),
    serial: z.string(),
    notBefore: z.string(),
    notAfter: z.string(),
    issuer: z.string(),
    generation: z.number().int().min(0),
    issuedAt: z.string(),
  })
  .strict();
export type IssuedLeaf = z.infer<typeof IssuedLeaf>;

const IndexFile = z.object({ leafGeneration: z.number().int().min(0), leaves: z.array(IssuedLeaf) }).strict();

export class IssuedIndex {
  readonly path: string;
  leafGeneration: number;
  private readonly leaves = new Map<string, IssuedLeaf>();

  private constructor(path: string, leafGeneration: number, leaves: IssuedLeaf[]) {
    this.path = path;
    this.leafGeneration = leafGeneration;
    for (const l of leaves) this.leaves.set(keyOf(l), l);
  }

  /** Loads `<caDir>/issued.json`, dropping leaves expired at `now`; empty when absent. */
  static async open(caDir: string, now: number): Promise<IssuedIndex> {
    const path = join(caDir, 'issued.json');
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text === undefined) return new IssuedIndex(path, 0, []);
    const r = IndexFile.safeParse(safeJson(text));
    if (!r.success) throw new MeshError('MESH_ERR_CA_STATE', `${path} is not the CA's issued index (${r.error.issues[0]?.message ?? 'bad JSON'})`, `remove ${path}; it is rebuilt as proxies renew`);
    await chmod(path, 0o600);
    return new IssuedIndex(path, r.data.leafGeneration, r.data.leaves.filter((l) => Date.parse(l.notAfter) > now));
  }

  /** Remembers a leaf (replacing the proxy's previous one) and writes the index; throws if the write fails. */
  record(leaf: IssuedLeaf, now: number): void {
    this.leaves.set(keyOf(leaf), leaf);
    for (const [k, l] of this.leaves) if (Date.parse(l.notAfter) <= now) this.leaves.delete(k);
    this.save();
  }

  setGeneration(n: number): void {
    this.leafGeneration = n;
    this.save();
  }

  /** Every proxy's last leaf, by service then proxy id. */
  list(): IssuedLeaf[] {
    return [...this.leaves.values()].sort((a, b) => a.service.localeCompare(b.service) || (a.proxyId ?? '').localeCompare(b.proxyId ?? ''));
  }

  /** The leaf issued last to each service (any replica). */
  lastPerService(): IssuedLeaf[] {
    const by = new Map<string, IssuedLeaf>();
    for (const l of this.leaves.values()) {
      const cur = by.get(l.service);
      if (!cur || cur.issuedAt <= l.issuedAt) by.set(l.service, l);
    }
    return [...by.values()].sort((a, b) => a.service.localeCompare(b.service));
  }

  // Synchronous on purpose: a few kB, once per signature; nothing is left in
  // flight when the answer goes out (a restart or a removed state dir never
  // races a pending write), and writes can never land out of order.
  private save(): void {
    const tmp = `${this.path}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify({ leafGeneration: this.leafGeneration, leaves: this.list() }, null, 1) + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(tmp, 0o600); // writeFileSync's mode is masked by umask
    renameSync(tmp, this.path);
  }
}

function keyOf(l: IssuedLeaf): string {
  return `${l.service}|${l.proxyId ?? ''}`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
