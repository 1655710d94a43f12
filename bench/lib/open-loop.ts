// Open-loop load at a fixed rate: request i is due at start + i/rate, and its
// latency counts from that due time, not from when it was sent, so a stall in
// the path is charged to every request it delayed (no coordinated omission).
// A worker thread keeps the schedule (see ticker.ts); the send lag left
// (worker wake-up plus this event loop's delay) is reported apart.
//
// The client is a few plain keep-alive sockets that read into one fixed
// buffer per connection and parse only what a 1 KB GET answer needs (status,
// Content-Length or chunked, Connection: close). A general client (undici)
// allocated enough per request that this process's own mark-compacts
// (10-20 ms) showed up in every scenario's p99, direct included.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { summarize, type Summary } from './percentiles.ts';
import { runTicker } from './ticker.ts';

export interface OpenLoopOptions {
  url: string;
  rate: number; // requests per second
  connections: number;
  durationMs: number;
  expectBytes?: number;
}

export interface OpenLoopResult {
  sent: number;
  ok: number;
  errors: number;
  firstError?: string;
  /** From the scheduled time to the last body byte, ms. */
  latency: Summary;
  /** From the actual send to the last body byte, ms. */
  service: Summary;
  /** Scheduled time to actual send (the generator's own jitter), ms. */
  sendLag: Summary;
  achievedRate: number;
}

/** What the parser made of one response; undefined while it is incomplete. */
interface Answer {
  status: number;
  bodyBytes: number;
  close: boolean;
}

const LF = 10;
const MAX_HEAD = 16 * 1024;

/** An HTTP/1.1 response parser for answers that are read, counted and dropped. */
class ResponseReader {
  private head = Buffer.allocUnsafe(MAX_HEAD);
  private headLength = 0;
  private inBody = false;
  private status = 0;
  private close = false;
  private chunked = false;
  private remaining = 0; // body bytes (Content-Length) or bytes of the current chunk
  private bodyBytes = 0;
  private chunkState: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
  private line = '';

  /** Parses buf[from, to); calls done(answer) at the end of each response. Throws on what it cannot read. */
  feed(buf: Buffer, from: number, to: number, done: (a: Answer) => void): void {
    let i = from;
    while (i < to) {
      if (!this.inBody) {
        const take = Math.min(to - i, MAX_HEAD - this.headLength);
        buf.copy(this.head, this.headLength, i, i + take);
        const end = this.head.subarray(0, this.headLength + take).indexOf('\r\n\r\n', Math.max(0, this.headLength - 3));
        if (end < 0) {
          if (this.headLength + take >= MAX_HEAD) throw new Error('response head over 16 KiB');
          this.headLength += take;
          return;
        }
        i += end + 4 - this.headLength;
        this.startBody(this.head.toString('latin1', 0, end));
        this.headLength = 0;
        if (!this.chunked && this.remaining === 0) this.finish(done);
        continue;
      }
      if (!this.chunked) {
        const take = Math.min(to - i, this.remaining);
        i += take;
        this.remaining -= take;
        this.bodyBytes += take;
        if (this.remaining === 0) this.finish(done);
        continue;
      }
      i = this.feedChunked(buf, i, to, done);
    }
  }

  private startBody(head: string): void {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
    this.status = Number(m[1]);
    this.close = false;
    this.chunked = false;
    this.remaining = 0;
    this.bodyBytes = 0;
    for (let k = 1; k < lines.length; k++) {
      const l = lines[k]!;
      const colon = l.indexOf(':');
      const name = l.slice(0, colon).trim().toLowerCase();
      const value = l.slice(colon + 1).trim().toLowerCase();
      if (name === 'content-length') this.remaining = Number(value);
      else if (name === 'transfer-encoding') this.chunked = value === 'chunked';
      else if (name === 'connection') this.close = value === 'close';
    }
    this.chunkState = 'size';
    this.line = '';
    this.inBody = true;
  }

  private feedChunked(buf: Buffer, i: number, to: number, done: (a: Answer) => void): number {
    if (this.chunkState === 'data') {
      const take = Math.min(to - i, this.remaining);
      this.remaining -= take;
      this.bodyBytes += take;
      if (this.remaining === 0) this.chunkState = 'data-crlf';
      return i + take;
    }
    // Size lines, the CRLF after data and the trailer section are read line by line.
    const lf = buf.indexOf(LF, i);
    const end = lf < 0 || lf >= to ? to : lf + 1;
    this.line += buf.toString('latin1', i, end);
    if (!this.line.endsWith('\n')) return end;
    const line = this.line.replace(/\r?\n$/, '');
    this.line = '';
    if (this.chunkState === 'data-crlf') {
      if (line !== '') throw new Error('chunk data longer than its size');
      this.chunkState = 'size';
    } else if (this.chunkState === 'size') {
      const size = parseInt(line, 16);
      if (!Number.isFinite(size)) throw new Error(`bad chunk size ${JSON.stringify(line)}`);
      this.remaining = size;
      this.chunkState = size === 0 ? 'trailer' : 'data';
    } else if (line === '') this.finish(done);
    return end;
  }

  private finish(done: (a: Answer) => void): void {
    this.inBody = false;
    done({ status: this.status, bodyBytes: this.bodyBytes, close: this.close });
  }
}

export async function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const u = new URL(o.url);
  if (u.protocol !== 'http:') throw new Error(`open loop: only http:// URLs, got ${o.url}`);
  const port = Number(u.port || 80);
  const request = Buffer.from(`GET ${u.pathname + u.search} HTTP/1.1\r\nhost: ${u.host}\r\nuser-agent: meshctl-bench\r\n\r\n`, 'latin1');
  const interval = 1000 / o.rate;
  // Epoch milliseconds with sub-millisecond precision, comparable across threads.
  const epochNow = () => performance.timeOrigin + performance.now();
  const total = Math.max(1, Math.round((o.rate * o.durationMs) / 1000));
  const latency = new Float64Array(total).fill(NaN); // NaN: never completed; summarize() skips it
  const service = new Float64Array(total).fill(NaN);
  const lag = new Float64Array(total);
  const due = new Float64Array(total);
  const sentAt = new Float64Array(total);
  let done = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  let finished!: () => void;
  const allDone = new Promise<void>((r) => (finished = r));
  let closing = false;

  const complete = (i: number, error?: string) => {
    const end = epochNow();
    latency[i] = end - due[i]!;
    service[i] = end - sentAt[i]!;
    if (error === undefined) ok++;
    else {
      errors++;
      firstError ??= error;
    }
    if (++done === total) finished();
  };

  // Requests due while every connection is busy wait here, oldest first.
  const queue: number[] = [];
  let queueHead = 0;

  class Conn {
    private socket!: Socket;
    private reader = new ResponseReader();
    private inFlight = -1;
    private ready = false;
    private readonly buffer = Buffer.allocUnsafe(64 * 1024);
    private lastError: string | undefined;

    constructor() {
      this.open();
    }

    get idle(): boolean {
      return this.ready && this.inFlight < 0;
    }

    send(i: number): void {
      this.inFlight = i;
      sentAt[i] = epochNow();
      lag[i] = sentAt[i]! - due[i]!;
      this.socket.write(request);
    }

    private open(): void {
      this.ready = false;
      this.reader = new ResponseReader();
      const socket = connect({
        host: u.hostname,
        port,
        noDelay: true,
        onread: { buffer: this.buffer, callback: (n: number, buf: Uint8Array) => this.onData(n, buf as Buffer) },
      });
      this.socket = socket;
      socket.on('connect', () => {
        this.ready = true;
        this.next();
      });
      socket.on('error', (err) => (this.lastError = err.message));
      socket.on('close', () => {
        this.ready = false;
        this.abandon(this.lastError ?? 'connection closed by the server');
        // Reconnect: at once after a Connection: close, after a pause when the connect or the socket failed.
        if (!closing) setTimeout(() => !closing && this.open(), this.lastError ? 50 : 0);
        this.lastError = undefined;
      });
    }

    private onData(n: number, buf: Buffer): boolean {
      try {
        this.reader.feed(buf, 0, n, (a) => this.onAnswer(a));
      } catch (err) {
        this.abandon((err as Error).message);
        this.socket.destroy();
      }
      return true;
    }

    private onAnswer(a: Answer): void {
      const i = this.inFlight;
      if (i < 0) throw new Error('an answer to no request');
      this.inFlight = -1;
      const wrong = a.status !== 200 || (o.expectBytes !== undefined && a.bodyBytes !== o.expectBytes);
      complete(i, wrong ? `status ${a.status}, ${a.bodyBytes} bytes` : undefined);
      if (a.close) this.socket.destroy();
      else this.next();
    }

    /** The request in flight, if any, failed. */
    private abandon(message: string): void {
      if (this.inFlight < 0) return;
      const i = this.inFlight;
      this.inFlight = -1;
      complete(i, message);
    }

    next(): void {
      if (this.idle && queueHead < queue.length) this.send(queue[queueHead++]!);
    }

    destroy(): void {
      this.socket.destroy();
    }
  }

  const conns = Array.from({ length: o.connections }, () => new Conn());
  const fire = (i: number, dueAt: number) => {
    due[i] = dueAt;
    const idle = conns.find((c) => c.idle);
    if (idle && queueHead === queue.length) idle.send(i);
    else queue.push(i);
  };

  const start = await runTicker(20, interval, total, fire);
  const elapsedSend = epochNow() - start;
  // Requests still in flight get up to 10 s; whatever is left counts as an error.
  const timedOut = await Promise.race([allDone.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 10_000).unref())]);
  closing = true;
  if (timedOut) {
    errors += total - done;
    firstError ??= `${total - done} requests unanswered 10 s after the run`;
  }
  for (const c of conns) c.destroy();
  return {
    sent: total,
    ok,
    errors,
    firstError,
    latency: summarize(latency),
    service: summarize(service),
    sendLag: summarize(lag),
    achievedRate: (total * 1000) / (elapsedSend + interval),
  };
}
