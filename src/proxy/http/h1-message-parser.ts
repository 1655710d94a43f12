// What HTTP/1.1 requests and responses share on the wire: header fields,
// Content-Length / chunked bodies, trailers. h1-response-parser.ts (the
// upstream client's) and h1-request-parser.ts (the downstream server's) add
// their start lines and framing rules. Anything a smuggling attack could lean
// on is an error, never a guess: bare LF, obs-fold, control characters,
// malformed chunk sizes or chunk ends. Errors carry llhttp's codes (HPE_*),
// which the proxy's error classification and access log report.

/** Most bytes of a message head (and, separately, of its trailers): Node's default maxHeaderSize. */
export const MAX_HEAD_BYTES = 16 * 1024;
const MAX_CHUNK_LINE = 1024;
// 13 hex digits stay below 2^53: a chunk size is always an exact number.
const MAX_CHUNK_HEX = 13;

export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Control characters other than HTAB (CR and LF included: a lone one inside a line is an error).
const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,13})(;[^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');

export class ParseError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** Body events, in order: chunks, then the end (with trailers, if any). */
export interface BodyEvents {
  onBody(chunk: Buffer): void;
  onEnd(trailers: string[] | undefined): void;
}

// Parser states (a plain object: erasable TypeScript has no enums).
export const S = { head: 0, length: 1, chunkSize: 2, chunkData: 3, chunkEnd: 4, trailers: 5, untilClose: 6, done: 7 } as const;
export type State = (typeof S)[keyof typeof S];

/** Trims SP and HTAB only (String#trim would also drop \v, \f and NBSP, which are part of a value). */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** One header line into raw (name, value); throws on anything malformed. */
export function headerLine(line: string, raw: string[]): void {
  const c = line.indexOf(':');
  const name = c > 0 ? line.slice(0, c) : '';
  // A leading SP/HTAB (obs-fold) or a space before the colon fails the token test.
  if (!TOKEN.test(name)) throw new ParseError('HPE_INVALID_HEADER_TOKEN', `invalid header line ${JSON.stringify(line.slice(0, 40))}`);
  const value = trimOws(line.slice(c + 1));
  if (CTL.test(value)) throw new ParseError('HPE_INVALID_HEADER_TOKEN', `invalid character in header ${name}`);
  raw.push(name, value);
}

export function hasToken(list: string, token: string): boolean {
  for (const t of list.split(',')) if (trimOws(t).toLowerCase() === token) return true;
  return false;
}

/** A Content-Length value, or an error: digits only, one value. */
export function contentLengthOf(value: string, seen: number): number {
  if (seen !== -1) throw new ParseError('HPE_UNEXPECTED_CONTENT_LENGTH', 'duplicate Content-Length');
  if (!/^\d{1,15}$/.test(value)) throw new ParseError('HPE_INVALID_CONTENT_LENGTH', `invalid Content-Length ${JSON.stringify(value.slice(0, 20))}`);
  return Number(value);
}

/** Incremental parsing of one message at a time; subclasses read the head and choose the body framing. */
export abstract class H1MessageParser<E extends BodyEvents> {
  protected readonly events: E;
  protected state: State = S.done;
  /**
   * Bytes of a head, chunk-size line or trailer section split across reads: always a copy, as
   * callers may pass views of a read buffer that the next read overwrites.
   */
  private partial: Buffer | undefined;
  /** Body bytes left (Content-Length) or bytes left of the current chunk. */
  private remaining = 0;
  /** chunkEnd: how many of the CRLF after a chunk's data were seen. */
  private crlfSeen = 0;
  private trailerRaw: string[] | undefined;
  private trailerBytes = 0;
  /** The connection may carry another message after this one. */
  keepAlive = true;

  constructor(events: E) {
    this.events = events;
  }

  /** "request" or "response", for error messages. */
  protected abstract readonly kind: string;

  /** Parses a complete head (without its final CRLFCRLF), sets the framing with body(), emits the head. */
  protected abstract parseHead(text: string): void;

  /** Ready for the next message's head. */
  protected restart(): void {
    this.state = S.head;
    this.partial = undefined;
    this.keepAlive = true;
    this.trailerRaw = undefined;
    this.trailerBytes = 0;
  }

  /** The message is complete (onEnd was called, or a head that has no body). */
  get complete(): boolean {
    return this.state === S.done;
  }

  /** Waiting for (more of) a head. */
  get inHead(): boolean {
    return this.state === S.head;
  }

  /** Part of a head was read (not just empty lines before it). */
  get headBegun(): boolean {
    return this.state === S.head && this.partial !== undefined;
  }

  /**
   * Empty lines (CRLF) before a start line are skipped, as RFC 9112 2.2 asks of servers (some clients send
   * one after a body); without this, two of them read as an empty head.
   */
  protected readonly skipsEmptyLines: boolean = false;

  /** The body ends when the connection does (no length, not chunked). */
  get endsAtClose(): boolean {
    return this.state === S.untilClose;
  }

  /** Sets how the body after the head is framed; -1 length without chunked means until close. */
  protected body(none: boolean, chunked: boolean, contentLength: number): void {
    if (none) this.state = S.done;
    else if (chunked) this.state = S.chunkSize;
    else if (contentLength >= 0) {
      this.remaining = contentLength;
      this.state = contentLength === 0 ? S.done : S.length;
    } else this.state = S.untilClose;
  }

  /**
   * Feed bytes; events fire synchronously. Returns how many bytes were used:
   * fewer than given means the message ended and the rest is not part of it.
   */
  execute(data: Buffer): number {
    let off = 0;
    while (off < data.length) {
      switch (this.state) {
        case S.head:
          off = this.readHead(data, off);
          break;
        case S.length: {
          const n = Math.min(this.remaining, data.length - off);
          this.remaining -= n;
          const chunk = off === 0 && n === data.length ? data : data.subarray(off, off + n);
          off += n;
          if (this.remaining === 0) this.state = S.done;
          this.events.onBody(chunk);
          if (this.state === S.done) this.events.onEnd(undefined);
          break;
        }
        case S.untilClose:
          this.events.onBody(off === 0 ? data : data.subarray(off));
          return data.length;
        case S.chunkSize:
          off = this.readChunkSize(data, off);
          break;
        case S.chunkData: {
          const n = Math.min(this.remaining, data.length - off);
          this.remaining -= n;
          const chunk = data.subarray(off, off + n);
          off += n;
          if (this.remaining === 0) {
            this.state = S.chunkEnd;
            this.crlfSeen = 0;
          }
          this.events.onBody(chunk);
          break;
        }
        case S.chunkEnd: {
          const want = this.crlfSeen === 0 ? 13 : 10;
          if (data[off] !== want) throw new ParseError('HPE_STRICT', 'chunk data not followed by CRLF');
          off++;
          if (++this.crlfSeen === 2) this.state = S.chunkSize;
          break;
        }
        case S.trailers:
          off = this.readTrailers(data, off);
          break;
        case S.done:
          return off;
      }
    }
    return off;
  }

  /** The connection ended: completes a close-delimited body, else the message was cut short. */
  finish(): void {
    if (this.state === S.untilClose) {
      this.state = S.done;
      this.events.onEnd(undefined);
    }
  }

  /** Bytes of data from `off`, after what is held back from earlier reads. */
  private joined(data: Buffer, off: number): Buffer {
    const rest = off === 0 ? data : data.subarray(off);
    const p = this.partial;
    if (p === undefined) return rest;
    this.partial = undefined;
    return Buffer.concat([p, rest]);
  }

  private readHead(data: Buffer, off: number): number {
    if (this.skipsEmptyLines && this.partial === undefined) {
      while (data[off] === 13 && data[off + 1] === 10) off += 2;
      if (off === data.length) return off;
    }
    const held = this.partial?.length ?? 0;
    const buf = this.joined(data, off);
    const end = buf.indexOf(CRLFCRLF, held > 3 ? held - 3 : 0);
    if (end === -1) {
      if (buf.indexOf(LFLF) !== -1) throw new ParseError('HPE_LF_EXPECTED', `${this.kind} head with bare LF line endings`);
      if (buf.length > MAX_HEAD_BYTES) throw new ParseError('HPE_HEADER_OVERFLOW', `${this.kind} head over ${MAX_HEAD_BYTES} bytes`);
      this.partial = held === 0 ? Buffer.from(buf) : buf;
      return data.length;
    }
    if (end > MAX_HEAD_BYTES) throw new ParseError('HPE_HEADER_OVERFLOW', `${this.kind} head over ${MAX_HEAD_BYTES} bytes`);
    this.parseHead(buf.toString('latin1', 0, end));
    // Offset in `data` just after the head (the head may have started in an earlier read).
    return off + (end + 4 - held);
  }

  /** A line ending in CRLF from `off` (with what earlier reads held back), or undefined when it is not complete yet. */
  private readLine(data: Buffer, off: number, max: number): { line: string; next: number } | undefined {
    const lf = data.indexOf(10, off);
    const heldLen = this.partial?.length ?? 0;
    if (lf === -1) {
      if (heldLen + data.length - off > max) throw new ParseError('HPE_CHUNK_EXTENSIONS_OVERFLOW', 'line too long');
      const rest = this.joined(data, off);
      this.partial = heldLen === 0 ? Buffer.from(rest) : rest;
      return undefined;
    }
    const buf = this.joined(data.subarray(0, lf + 1), off);
    if (buf.length > max) throw new ParseError('HPE_CHUNK_EXTENSIONS_OVERFLOW', 'line too long');
    if (buf.length < 2 || buf[buf.length - 2] !== 13) throw new ParseError('HPE_LF_EXPECTED', 'bare LF in chunked body');
    return { line: buf.toString('latin1', 0, buf.length - 2), next: lf + 1 };
  }

  private readChunkSize(data: Buffer, off: number): number {
    const r = this.readLine(data, off, MAX_CHUNK_LINE);
    if (r === undefined) return data.length;
    const m = CHUNK_SIZE.exec(r.line);
    if (m === null || m[1]!.length > MAX_CHUNK_HEX) throw new ParseError('HPE_INVALID_CHUNK_SIZE', `invalid chunk size line ${JSON.stringify(r.line.slice(0, 20))}`);
    const size = parseInt(m[1]!, 16);
    if (size === 0) {
      this.state = S.trailers;
    } else {
      this.remaining = size;
      this.state = S.chunkData;
    }
    return r.next;
  }

  private readTrailers(data: Buffer, off: number): number {
    const r = this.readLine(data, off, MAX_HEAD_BYTES);
    if (r === undefined) return data.length;
    if (r.line === '') {
      this.state = S.done;
      this.events.onEnd(this.trailerRaw);
      return r.next;
    }
    this.trailerBytes += r.line.length + 2;
    if (this.trailerBytes > MAX_HEAD_BYTES) throw new ParseError('HPE_HEADER_OVERFLOW', `trailers over ${MAX_HEAD_BYTES} bytes`);
    headerLine(r.line, (this.trailerRaw ??= []));
    return r.next;
  }
}
