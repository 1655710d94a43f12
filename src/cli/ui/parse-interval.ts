// Parses a refresh interval or threshold given on the command line: "1s", "500ms", "2", "1.5s".
import { MeshError } from '../../shared/errors.ts';

export function parseInterval(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new MeshError('MESH_ERR_USAGE', `${what}: "${text}" is not a duration`, `write it like 1s, 500ms or 2m`);
  const n = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  if (n < 100) throw new MeshError('MESH_ERR_USAGE', `${what}: ${text} is too short`, 'use 100ms or more');
  return n;
}
