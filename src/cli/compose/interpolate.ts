// Compose variable interpolation for the no-compose fallback: ${VAR},
// ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, ${VAR:+alt},
// ${VAR+alt}, $VAR and `$$` for a literal `$`. Compose is the reference; this
// covers what compose files use, nested defaults included.
import { MeshError } from '../../shared/errors.ts';
import { isObj } from './compose-model.ts';

type Env = Record<string, string | undefined>;

/** Parses a .env file the way compose does: KEY=VALUE, quotes, comments, `export`. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    const q = value[0];
    if ((q === '"' || q === "'") && value.lastIndexOf(q) > 0) {
      value = value.slice(1, value.lastIndexOf(q));
      if (q === '"') value = value.replace(/\\n/g, '\n').replace(/\\"/g, '"');
    } else {
      value = value.replace(/\s+#.*$/, '').trim();
    }
    out[m[1]!] = value;
  }
  return out;
}

export function interpolateString(s: string, env: Env, where = ''): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const n = s[i + 1];
    if (n === '$') {
      out += '$';
      i += 2;
    } else if (n === '{') {
      // Find the matching brace, allowing nested ${...} in defaults.
      let depth = 1;
      let j = i + 2;
      while (j < s.length && depth > 0) {
        if (s[j] === '{') depth++;
        else if (s[j] === '}') depth--;
        j++;
      }
      if (depth !== 0) throw new MeshError('MESH_ERR_COMPOSE_INVALID', `invalid interpolation format in ${where || 'a value'}: "${s}"`);
      out += expand(s.slice(i + 2, j - 1), env, where);
      i = j;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1));
      if (!m) {
        out += '$';
        i++;
      } else {
        out += env[m[0]] ?? '';
        i += 1 + m[0].length;
      }
    }
  }
  return out;
}

function expand(body: string, env: Env, where: string): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
  if (!m) throw new MeshError('MESH_ERR_COMPOSE_INVALID', `invalid interpolation format in ${where || 'a value'}: "\${${body}}"`);
  const [, name, op, arg = ''] = m;
  const value = env[name!];
  const unsetOrEmpty = value === undefined || value === '';
  switch (op) {
    case undefined:
      return value ?? '';
    case ':-':
      return unsetOrEmpty ? interpolateString(arg, env, where) : value!;
    case '-':
      return value === undefined ? interpolateString(arg, env, where) : value;
    case ':?':
    case '?':
      if (op === ':?' ? unsetOrEmpty : value === undefined) {
        throw new MeshError('MESH_ERR_COMPOSE_INVALID', `required variable ${name} is missing a value: ${arg}`, `set ${name} in the environment or in .env`);
      }
      return value!;
    case ':+':
      return unsetOrEmpty ? '' : interpolateString(arg, env, where);
    case '+':
      return value === undefined ? '' : interpolateString(arg, env, where);
    default:
      return value ?? '';
  }
}

/** Interpolates every string value (not keys) of a parsed compose file. */
export function interpolate(v: unknown, env: Env, where = ''): unknown {
  if (typeof v === 'string') return interpolateString(v, env, where);
  if (Array.isArray(v)) return v.map((x, i) => interpolate(x, env, `${where}[${i}]`));
  if (isObj(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = interpolate(x, env, where ? `${where}.${k}` : k);
    return out;
  }
  return v;
}
