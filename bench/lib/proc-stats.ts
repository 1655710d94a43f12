// CPU time and memory of a process, read from /proc (Linux only).
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond = 100;
try {
  ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
} catch {
  // getconf missing: 100 is the value on every common Linux build
}

/** User + system CPU seconds used so far (fields 14 and 15 of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; count fields after its closing paren.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / ticksPerSecond;
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/**
 * RSS split from /proc/<pid>/status, in bytes: anonymous pages (heap, V8's
 * spaces, buffers: what the process itself allocated) and file-backed pages
 * (mostly the node binary's code and read-only data, shared by every process
 * that maps the same file; no JS can shrink them). RssShmem is counted apart.
 */
export interface RssSplit {
  rss: number;
  anon: number;
  file: number;
  shmem: number;
}

export function rssSplit(pid: number): RssSplit {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  };
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') };
}

/** Samples RSS of several processes every intervalMs and keeps, per process, the sample with the highest RSS. */
export class RssSampler {
  private readonly peaks = new Map<number, RssSplit>();
  private timer: NodeJS.Timeout | undefined;
  private readonly pids: number[];

  constructor(pids: number[], intervalMs = 100) {
    this.pids = pids;
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs).unref();
  }

  private sample(): void {
    for (const pid of this.pids) {
      try {
        const now = rssSplit(pid);
        if (now.rss > (this.peaks.get(pid)?.rss ?? -1)) this.peaks.set(pid, now);
      } catch {
        // process gone: keep the last peak
      }
    }
  }

  stop(): Map<number, RssSplit> {
    this.sample();
    clearInterval(this.timer);
    return this.peaks;
  }
}
