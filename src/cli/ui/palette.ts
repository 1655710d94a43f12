// Colours for the dashboard and tables. chalk's own detection ignores NO_COLOR,
// so the level is decided here: NO_COLOR (non-empty) wins over everything, then
// FORCE_COLOR, then whether the output is a terminal.
import { Chalk, type ChalkInstance } from 'chalk';

export type Tone = 'ok' | 'warn' | 'bad' | 'dim' | 'accent' | 'plain';

export interface Palette {
  readonly enabled: boolean;
  tone(tone: Tone, text: string): string;
  bold(text: string): string;
  inverse(text: string): string;
}

export function createPalette(opts: { env?: NodeJS.ProcessEnv; isTTY?: boolean } = {}): Palette {
  const env = opts.env ?? process.env;
  let level: 0 | 1 | 2 | 3 = 0;
  if (env.NO_COLOR) level = 0;
  else if (env.FORCE_COLOR === 'false' || env.FORCE_COLOR === '0') level = 0;
  else if (env.FORCE_COLOR !== undefined) {
    const n = Number(env.FORCE_COLOR);
    level = Number.isInteger(n) && n >= 1 && n <= 3 ? (n as 1 | 2 | 3) : 1;
  } else if (opts.isTTY ?? process.stdout.isTTY) level = env.TERM === 'dumb' ? 0 : 1;
  const c: ChalkInstance = new Chalk({ level });
  const tones: Record<Tone, (s: string) => string> = {
    ok: c.green,
    warn: c.yellow,
    bad: c.red,
    dim: c.dim,
    accent: c.cyan,
    plain: (s) => s,
  };
  return {
    enabled: level > 0,
    tone: (t, s) => tones[t](s),
    bold: (s) => c.bold(s),
    inverse: (s) => c.inverse(s),
  };
}
