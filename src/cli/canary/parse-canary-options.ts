// Turns `meshctl canary start` flags into the POST /v1/canary body. Checked
// again by the controller; errors here name the flag and the expected form.
import { CanaryStart } from '../../shared/canary.ts';
import { MeshError } from '../../shared/errors.ts';
import { parseDuration } from '../parse-duration.ts';

export type StartFlags = {
  version?: string;
  image?: string;
  stable?: string;
  steps?: string;
  interval?: string;
  minRequests?: string;
  maxErrorRate?: string;
  maxP99?: string;
  header?: string;
  checkUrl?: string;
  mirror?: string;
};

const usage = (msg: string, hint: string) => new MeshError('MESH_ERR_USAGE', msg, hint);

/** "1%" → 0.01; "0.01" → 0.01 (a bare number is a fraction). */
export function parseRate(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(%)?$/.exec(text.trim());
  const n = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!(n >= 0 && n <= 1)) throw usage(`${what}: "${text}" is not a rate`, 'write it like 1% or 0.01');
  return n;
}

/** "250", "250ms" → { ms: 250 }; "1.5x" → { relative: 1.5 } (of the stable version's p99). */
export function parseP99(text: string): { ms: number } | { relative: number } {
  const rel = /^(\d+(?:\.\d+)?)x$/i.exec(text.trim());
  if (rel && Number(rel[1]) > 0) return { relative: Number(rel[1]) };
  const abs = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  if (abs && Number(abs[1]) > 0) return { ms: Number(abs[1]) * (abs[2] === 's' ? 1000 : 1) };
  throw usage(`--max-p99: "${text}" is neither a latency nor a factor`, 'write 250ms (absolute) or 1.5x (relative to the stable version)');
}

export function buildStartBody(service: string, f: StartFlags): CanaryStart {
  if (!f.version && !f.image) throw usage('canary start needs --version <label> or --image <image:tag>', '--version uses a version already running; --image starts one (Docker)');
  const body: Record<string, unknown> = { service };
  if (f.version) body.version = f.version;
  if (f.image) body.image = f.image;
  if (f.stable) body.stable = f.stable;
  if (f.steps) {
    body.steps = f.steps.split(',').map((s) => {
      const n = Number(s.trim().replace(/%$/, ''));
      if (!Number.isInteger(n)) throw usage(`--steps: "${s}" is not a whole percent`, 'write it like 5,25,50,100');
      return n;
    });
  }
  if (f.interval) body.intervalMs = parseDuration(f.interval, '--interval', { minMs: 100 });
  const gates: Record<string, unknown> = { minRequests: 20, maxErrorRate: 0.01 };
  if (f.minRequests) gates.minRequests = Number(f.minRequests);
  if (f.maxErrorRate) gates.maxErrorRate = parseRate(f.maxErrorRate, '--max-error-rate');
  if (f.maxP99) gates.maxP99 = parseP99(f.maxP99);
  body.gates = gates;
  if (f.header) {
    const i = f.header.indexOf('=');
    if (i <= 0 || i === f.header.length - 1) throw usage(`--header: "${f.header}" is not name=value`, 'write it like --header x-canary=1');
    body.header = { name: f.header.slice(0, i).trim(), value: f.header.slice(i + 1).trim() };
  }
  if (f.checkUrl) body.checkUrl = f.checkUrl;
  // 100% or 100: the share of requests copied to the canary during the mirror phase.
  if (f.mirror) body.mirrorPercent = parseRate(f.mirror.includes('%') ? f.mirror : `${f.mirror}%`, '--mirror') * 100;
  const r = CanaryStart.safeParse(body);
  if (!r.success) throw usage(`canary start: ${r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`, 'see `meshctl canary start --help`');
  return r.data;
}
