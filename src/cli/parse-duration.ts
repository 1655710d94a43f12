// Parses a duration given on the command line: "120s", "500ms", "2m", or a
// bare number of seconds ("30", "1.5").
import { MeshError } from '../shared/errors.ts';

export function parseDuration(text: string, what: string, { minMs = 0 } = {}): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new MeshError('MESH_ERR_USAGE', `${what}: "${text}" is not a duration: expected e.g. 120s, 500ms or 2m`, 'write it like 1s, 500ms or 2m');
  const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  if (ms < minMs) throw new MeshError('MESH_ERR_USAGE', `${what}: ${text} is too short`, `use ${minMs}ms or more`);
  return ms;
}
