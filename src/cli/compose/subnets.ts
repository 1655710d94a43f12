// Carves one small subnet per `S-net` from a range (default 10.213.0.0/16 in
// /27s: 30 addresses, room for the gateway, the sidecar and ~27 replicas).
// Docker's default pools hold few bridge networks, so we never ask Docker to
// pick. The start block is derived from the project name, so two projects on
// one engine rarely probe the same blocks; anything taken is skipped.
import { createHash } from 'node:crypto';
import { MeshError } from '../../shared/errors.ts';

export const DEFAULT_SUBNET_RANGE = '10.213.0.0/16';
export const DEFAULT_SUBNET_PREFIX = 27;

interface Cidr {
  base: number;
  prefix: number;
}

export function parseCidr(s: string): Cidr {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(s.trim());
  if (!m) throw new MeshError('MESH_ERR_USAGE', `"${s}" is not an IPv4 CIDR like 10.213.0.0/16`);
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) throw new MeshError('MESH_ERR_USAGE', `"${s}" is not an IPv4 CIDR like 10.213.0.0/16`);
  const ip = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (ip & mask) >>> 0, prefix };
}

function format({ base, prefix }: Cidr): string {
  return `${base >>> 24}.${(base >>> 16) & 255}.${(base >>> 8) & 255}.${base & 255}/${prefix}`;
}

function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

export interface SubnetOptions {
  range?: string;
  prefix?: number;
  /** Subnets already in use (the user's own, other Docker networks); IPv6 entries are ignored. */
  taken?: string[];
  /** Spreads projects over the range; usually the project name. */
  seed?: string;
}

/** One subnet per name, disjoint from each other and from `taken`. */
export function allocateSubnets(names: string[], opts: SubnetOptions = {}): Record<string, string> {
  const range = parseCidr(opts.range ?? DEFAULT_SUBNET_RANGE);
  const prefix = opts.prefix ?? DEFAULT_SUBNET_PREFIX;
  if (!Number.isInteger(prefix) || prefix < range.prefix || prefix > 29) {
    throw new MeshError('MESH_ERR_USAGE', `subnet size /${prefix} must be between /${range.prefix} (the range) and /29`);
  }
  const taken = (opts.taken ?? []).filter((s) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(s)).map(parseCidr);
  const blocks = 2 ** (prefix - range.prefix);
  const start = opts.seed ? createHash('sha256').update(opts.seed).digest().readUInt32BE(0) % blocks : 0;
  const out: Record<string, string> = {};
  let i = 0;
  for (const name of names) {
    let found: Cidr | undefined;
    for (; i < blocks && !found; i++) {
      const c = { base: (range.base + ((start + i) % blocks) * 2 ** (32 - prefix)) >>> 0, prefix };
      if (!taken.some((t) => overlaps(t, c))) found = c;
    }
    if (!found) {
      throw new MeshError('MESH_ERR_USAGE', `no free /${prefix} left in ${format(range)} for ${name}-net`, 'use a larger range with --subnet-range, or remove unused Docker networks (`docker network prune`)');
    }
    out[name] = format(found);
  }
  return out;
}
