// Command-line options of `npm run bench -- ...`.
import { parseArgs } from 'node:util';
import { shippedNodeArgs } from './hops/meshctl.ts';

export interface BenchOptions {
  /** Each max-throughput run. */
  durationMs: number;
  /** The fixed-rate (latency) run. */
  latencyMs: number;
  warmupMs: number;
  quick: boolean;
  only?: string[];
  rate: number;
  fixedConnections: number;
  maxConnections: number;
  threads: number;
  upstream: 'haproxy' | 'node';
  loadgen: 'wrk' | 'undici';
  accessLog: boolean;
  meshctlEntry: string;
  /** Node/V8 flags for the meshctl hops (as NODE_OPTIONS would give them in a container). */
  nodeArgs: string[];
  disconnect: boolean;
  disconnectRequests: number;
  bodyBytes: number;
  json: string;
}

export const usage = `npm run bench -- [options]

  --duration <s>         seconds of each max-throughput run; default 5
  --latency-duration <s> seconds of the fixed-rate (latency) run; default 30
                         (at 1,000 req/s a 5 s run decides p99 by its 50 worst requests:
                         one scheduler hiccup on a shared 2-core machine moves it by 1 ms)
  --warmup <s>           seconds of warm-up at the fixed rate before measuring; default 15
                         (a Node proxy's JIT keeps optimizing for 10-20 s at 1,000 req/s)
  --quick                short run for smoke checks (1 s runs, 0.5 s warm-up)
  --only <ids>           comma-separated scenario ids, e.g. a,d,e,ftcp
  --rate <n>             fixed rate for the latency run, req/s; default 1000
  --connections <n>      connections for the fixed-rate run; default 8
  --max-connections <n>  connections for the max-throughput run; default 64
  --threads <n>          wrk threads; default 1
  --upstream <kind>      haproxy (default) or node
  --loadgen <kind>       wrk (default when /usr/bin/wrk exists) or undici
  --access-log           turn the meshctl proxies' access log on (off by default)
  --meshctl <entry>      src (default: node src/cli/main.ts), dist (dist/cli/main.js after
                         npm run build), build (compile src/ now into bench/results/pkg/dist and
                         run that: compiled JS as in a container, from the current source),
                         or the path of a CLI entry file
  --node-args="<flags>"  Node/V8 flags for every meshctl hop; default: the flags a sidecar runs
                         with in the mesh image (${shippedNodeArgs.join(' ')}); --node-args= for none
                         (bench/profile-proxy.ts and bench/memory-curve.ts measure what each one changes)
  --no-disconnect        skip the client-disconnect check
  --json <file>          where to write the results; default bench/results/latest.json
`;

export function parseOptions(argv: string[], defaults: { json: string; loadgen: 'wrk' | 'undici' }): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    allowNegative: true,
    options: {
      duration: { type: 'string' },
      'latency-duration': { type: 'string' },
      warmup: { type: 'string' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      rate: { type: 'string', default: '1000' },
      connections: { type: 'string', default: '8' },
      'max-connections': { type: 'string', default: '64' },
      threads: { type: 'string', default: '1' },
      upstream: { type: 'string', default: 'haproxy' },
      loadgen: { type: 'string', default: defaults.loadgen },
      'access-log': { type: 'boolean', default: false },
      meshctl: { type: 'string', default: 'src' },
      'node-args': { type: 'string' },
      disconnect: { type: 'boolean', default: true },
      json: { type: 'string', default: defaults.json },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const num = (name: string, v: string | undefined, fallback: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${v}"`);
    return n;
  };
  const oneOf = <T extends string>(name: string, v: string, allowed: readonly T[]): T => {
    if (!allowed.includes(v as T)) throw new Error(`--${name} must be one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  };
  const quick = values.quick;
  return {
    quick,
    durationMs: num('duration', values.duration, quick ? 1 : 5) * 1000,
    latencyMs: num('latency-duration', values['latency-duration'], quick ? 1 : 30) * 1000,
    warmupMs: num('warmup', values.warmup, quick ? 0.5 : 15) * 1000,
    only: values.only?.split(',').map((s) => s.trim()).filter(Boolean),
    rate: num('rate', values.rate, 1000),
    fixedConnections: num('connections', values.connections, 8),
    maxConnections: num('max-connections', values['max-connections'], 64),
    threads: num('threads', values.threads, 1),
    upstream: oneOf('upstream', values.upstream, ['haproxy', 'node'] as const),
    loadgen: oneOf('loadgen', values.loadgen, ['wrk', 'undici'] as const),
    accessLog: values['access-log'],
    meshctlEntry: values.meshctl,
    nodeArgs: values['node-args'] === undefined ? [...shippedNodeArgs] : values['node-args'].split(' ').filter(Boolean),
    disconnect: values.disconnect,
    disconnectRequests: quick ? 5 : 20,
    bodyBytes: 1024,
    json: values.json,
  };
}
