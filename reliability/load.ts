// A steady open-loop load: one request every 1/rate seconds whatever the
// answers do (a closed loop would slow down during a fault and hide it), each
// recorded with its start, end, status and the mesh's reason when it failed.
// The loop runs in a worker thread (load-worker.ts); samples stream back.
import { Worker } from 'node:worker_threads';

export interface Sample {
  path: string;
  start: number;
  end: number;
  ok: boolean;
  status: number;
  /** x-mesh-error, else the start of the body, else the client error. */
  error?: string;
  /** What `pick` took from a good answer (e.g. the replica that served it). */
  tag?: string;
}

export interface LoadOptions {
  base: string;
  paths: string[];
  rate: number;
  /** A request still unanswered after this counts as failed. */
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** What counts as a good answer (default: any 2xx). */
  expect?: { status: number; meshErrorPrefix?: string };
  /** Connections the client may open (default 64): an open loop opens more after a stall, up to this. */
  connections?: number;
  /** For answers to paths starting with `pathPrefix`: the JSON string at `json` becomes the sample's tag. */
  pick?: { pathPrefix: string; json: string[] };
}

export interface RunningLoad {
  /** Samples so far (updated every 100 ms). */
  samples: Sample[];
  /** Stops sending and waits for the answers still due. */
  stop(): Promise<Sample[]>;
}

export function startLoad(opts: LoadOptions): RunningLoad {
  const samples: Sample[] = [];
  const worker = new Worker(new URL('./load-worker.ts', import.meta.url), { workerData: opts });
  let finished: (s: Sample[]) => void;
  const done = new Promise<Sample[]>((r) => (finished = r));
  worker.on('message', (m: { samples: Sample[]; done?: boolean }) => {
    samples.push(...m.samples);
    if (m.done) {
      void worker.terminate();
      finished(samples.sort((a, b) => a.start - b.start));
    }
  });
  worker.on('error', (err) => {
    throw err;
  });
  return {
    samples,
    stop() {
      worker.postMessage({ stop: true });
      return done;
    },
  };
}

export interface LoadFigures {
  sent: number;
  failed: number;
  /** Longest run of consecutive failures (by start time): first failure's start to the last one's end, ms. */
  worstBurstMs: number;
  /** The distinct reasons of the failures, with counts. */
  errors: Record<string, number>;
}

// The mesh's own reason, wherever the apps nested it in their error bodies (`"raw":"upstream-reset out:order:8080 …"`).
const MESH_REASON = /(?:no-route|no-healthy-endpoint|upstream-connect-failure|upstream-reset|upstream-protocol-error|rbac-denied|timeout|circuit-open|rate-limited|fault-injected|downstream-[a-z-]+) [^"\\]*/;

/** One failure's reason, addresses masked so equal reasons group: the mesh's reason when there is one. */
export function reasonOf(s: Sample): string {
  const text = s.error ?? `status ${s.status}`;
  const why = MESH_REASON.exec(text)?.[0] ?? text;
  return `${s.status || 'no answer'} ${why}`.replace(/\d+\.\d+\.\d+\.\d+(:\d+)?/g, '<addr>').replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>').slice(0, 140);
}

export function figures(samples: Sample[]): LoadFigures {
  const sorted = [...samples].sort((a, b) => a.start - b.start);
  let worst = 0;
  let runStart: number | undefined;
  let runEnd = 0;
  const errors: Record<string, number> = {};
  for (const s of sorted) {
    if (s.ok) {
      if (runStart !== undefined) worst = Math.max(worst, runEnd - runStart);
      runStart = undefined;
      continue;
    }
    const reason = reasonOf(s);
    errors[reason] = (errors[reason] ?? 0) + 1;
    runStart ??= s.start;
    runEnd = Math.max(runEnd, s.end);
  }
  if (runStart !== undefined) worst = Math.max(worst, runEnd - runStart);
  return { sent: sorted.length, failed: sorted.filter((s) => !s.ok).length, worstBurstMs: worst, errors };
}
