// A request read by the proxy's own HTTP/1 server (listeners/h1-server-connection.ts):
// the part of node:http's IncomingMessage the request path uses (method, url,
// headers, rawHeaders, socket, a readable body), without its per-request
// parser callbacks. The body is a Readable fed by the connection, with
// backpressure: pushing into a full buffer pauses the socket.
import { Readable } from 'node:stream';
import type net from 'node:net';

// Duplicates of these are dropped, as node:http does (a second Host or Content-Type is noise, not a list).
const FIRST_WINS = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since',
  'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after',
  'server', 'user-agent',
]);

/** node:http's header object from a raw [name, value, ...] list: lowercase names, repeated ones joined. */
export function headerObjectOf(raw: readonly string[]): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const prev = h[name];
    if (prev === undefined) h[name] = name === 'set-cookie' ? [value] : value;
    else if (name === 'set-cookie') (prev as string[]).push(value);
    else if (FIRST_WINS.has(name)) continue;
    else h[name] = `${prev as string}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return h;
}

/** What the request asks of the connection when its body is read. */
export interface BodySource {
  resumeBody(): void;
}

export class H1IncomingRequest extends Readable {
  readonly method: string;
  url: string;
  readonly rawHeaders: string[];
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor: number;
  readonly socket: net.Socket;
  /** The whole body was read (or there was none). */
  complete: boolean;
  rawTrailers: string[] = [];
  private headerObject: Record<string, string | string[]> | undefined;
  private readonly source: BodySource;
  private readonly hasBody: boolean;

  constructor(source: BodySource, socket: net.Socket, method: string, url: string, rawHeaders: string[], minor: number, hasBody: boolean) {
    super();
    this.source = source;
    this.socket = socket;
    this.method = method;
    this.url = url;
    this.rawHeaders = rawHeaders;
    this.httpVersionMinor = minor;
    this.hasBody = hasBody;
    this.complete = !hasBody;
  }

  get httpVersion(): string {
    return this.httpVersionMinor === 0 ? '1.0' : '1.1';
  }

  /** Made on first use (most requests are routed on Host and a few names). */
  get headers(): Record<string, string | string[]> {
    return (this.headerObject ??= headerObjectOf(this.rawHeaders));
  }

  get trailers(): Record<string, string | string[]> {
    return headerObjectOf(this.rawTrailers);
  }

  override _read(): void {
    // A bodiless request ends as soon as someone reads it.
    if (!this.hasBody) this.push(null);
    else this.source.resumeBody();
  }
}
