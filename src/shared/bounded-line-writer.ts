// Writes NDJSON lines to a live stream (a tap) with a fixed memory bound: lines
// are batched once per event-loop turn, and when the reader is slow (bytes
// queued in the stream plus pending here reach the bound) new lines are
// dropped and counted, then reported in one line once there is room again.
// Used by the proxy's admin /tap and by the controller's tap fan-in.
import type { Writable } from 'node:stream';

export class BoundedLineWriter {
  readonly #out: Writable;
  readonly #maxBytes: number;
  readonly #droppedLine: (count: number) => string;
  #pending: string[] = [];
  #pendingBytes = 0;
  #scheduled = false;
  /** Dropped since the last report. */
  #unreported = 0;
  /** Dropped over the stream's life. */
  dropped = 0;
  /** Called for each dropped line (stats). */
  onDrop: (() => void) | undefined;

  constructor(out: Writable, maxBytes: number, droppedLine: (count: number) => string) {
    this.#out = out;
    this.#maxBytes = maxBytes;
    this.#droppedLine = droppedLine;
    // Room again: say how many lines were lost even if no new line comes.
    out.on('drain', () => {
      if (this.#unreported > 0) this.#schedule();
    });
  }

  /** Queue one line (ending in "\n"); false when it was dropped. */
  push(line: string): boolean {
    if (this.#out.writableLength + this.#pendingBytes + line.length > this.#maxBytes || this.#out.destroyed) {
      this.#unreported++;
      this.dropped++;
      this.onDrop?.();
      return false;
    }
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    this.#schedule();
    return true;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#out.destroyed || this.#out.writableEnded) return;
    let text = '';
    // The report goes first only when it fits; otherwise it waits for the next drain.
    if (this.#unreported > 0 && this.#out.writableLength + this.#pendingBytes < this.#maxBytes) {
      text = this.#droppedLine(this.#unreported);
      this.#unreported = 0;
    }
    if (this.#pending.length > 0) text += this.#pending.join('');
    this.#pending = [];
    this.#pendingBytes = 0;
    if (text) this.#out.write(text);
  };
}
