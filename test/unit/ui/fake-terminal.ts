// A terminal for ink without a TTY: a stdout of fixed size that keeps every
// frame ink writes (debug mode writes whole frames), and a stdin that a test
// types into. ink-testing-library does the same; this avoids a dependency.
import { EventEmitter } from 'node:events';
import { stripVTControlCharacters } from 'node:util';

export class FakeStdout extends EventEmitter {
  readonly isTTY = true;
  columns: number;
  rows: number;
  frames: string[] = [];
  constructor(columns: number, rows: number) {
    super();
    this.columns = columns;
    this.rows = rows;
  }
  write(s: string, encoding?: unknown, cb?: () => void): boolean {
    this.frames.push(s);
    // ink waits for the write callback before its exit promise settles.
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') queueMicrotask(() => done());
    return true;
  }
  lastFrame(): string {
    return this.frames.at(-1) ?? '';
  }
  /** The last frame as the user reads it: escape codes removed. */
  screen(): string {
    return stripVTControlCharacters(this.lastFrame());
  }
}

export class FakeStdin extends EventEmitter {
  readonly isTTY = true;
  #queue: string[] = [];
  setRawMode(): this {
    return this;
  }
  setEncoding(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  pause(): this {
    return this;
  }
  read(): string | null {
    return this.#queue.shift() ?? null;
  }
  /** Types keys: '\t' Tab, '\r' Enter, '\x1b' Esc, '\x7f' Backspace, '\x1b[B' down arrow. */
  type(keys: string): void {
    this.#queue.push(keys);
    this.emit('readable');
  }
}
