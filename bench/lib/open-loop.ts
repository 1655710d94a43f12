// Open-loop load at a fixed rate: request i is due at start + i/rate, and its
// latency counts from that due time, not from when it was sent, so a stall in
// the path is charged to every request it delayed (no coordinated omission).
// A worker thread keeps the schedule (see ticker.ts); the send lag left
// (worker wake-up plus this event loop's delay) is reported apart.
//
// The client is a few plain keep-alive sockets that read into one fixed
// buffer per connection, parsed by the proxy's own HTTP/1 response parser
// (src/proxy/http/h1-response-parser.ts). A general client (undici)
// allocated enough per request that this process's own mark-compacts
// (10-20 ms) showed up in every scenario's p99, direct included.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { summarize, type Summary } from './percentiles.ts';
import { runTicker } from './ticker.ts';
import { H1ResponseParser, type ResponseEvents } from '../../src/proxy/http/h1-response-parser.ts';

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

  class Conn implements ResponseEvents {
    private socket!: Socket;
    private parser = new H1ResponseParser(this);
    private inFlight = -1;
    private ready = false;
    private readonly buffer = Buffer.allocUnsafe(64 * 1024);
    private lastError: string | undefined;
    // The answer being read.
    private status = 0;
    private bodyBytes = 0;
    private ended = false;

    constructor() {
      this.open();
    }

    get idle(): boolean {
      return this.ready && this.inFlight < 0;
    }

    send(i: number): void {
      this.inFlight = i;
      this.parser.reset(false);
      this.status = this.bodyBytes = 0;
      this.ended = false;
      sentAt[i] = epochNow();
      lag[i] = sentAt[i]! - due[i]!;
      this.socket.write(request);
    }

    onHead(status: number): void {
      this.status = status;
    }

    onBody(chunk: Buffer): void {
      this.bodyBytes += chunk.length;
    }

    onEnd(): void {
      this.ended = true;
    }

    private open(): void {
      this.ready = false;
      this.parser = new H1ResponseParser(this);
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
        if (this.inFlight < 0) throw new Error('bytes from the server with no request in flight');
        const used = this.parser.execute(buf.subarray(0, n));
        if (used < n) throw new Error('bytes from the server after the answer');
      } catch (err) {
        this.abandon((err as Error).message);
        this.socket.destroy();
        return true;
      }
      // The answer is handled after execute() returns: the next request resets the parser.
      if (this.ended) this.onAnswer();
      return true;
    }

    private onAnswer(): void {
      const i = this.inFlight;
      this.inFlight = -1;
      const wrong = this.status !== 200 || (o.expectBytes !== undefined && this.bodyBytes !== o.expectBytes);
      complete(i, wrong ? `status ${this.status}, ${this.bodyBytes} bytes` : undefined);
      if (!this.parser.keepAlive) this.socket.destroy();
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
