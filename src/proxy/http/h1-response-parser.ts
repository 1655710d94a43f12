// A strict, incremental HTTP/1.1 *response* parser for the proxy's upstream
// client (clusters/h1-pool.ts): status line, interim 1xx, and the framing
// rules of responses (close-delimited bodies, HEAD, 204/304). Header fields,
// bodies and trailers are h1-message-parser.ts's. Content-Length with
// Transfer-Encoding, a second Content-Length or a Transfer-Encoding other
// than "chunked" are errors, which classify-upstream-error.ts reports as
// upstream-protocol-error.
import { H1MessageParser, ParseError, contentLengthOf, hasToken, headerLine, type BodyEvents } from './h1-message-parser.ts';

export { MAX_HEAD_BYTES, ParseError } from './h1-message-parser.ts';

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?$/;

/** What the parser reports, in order: one head, body chunks, then the end (with trailers, if any). */
export interface ResponseEvents extends BodyEvents {
  onHead(status: number, reason: string, rawHeaders: string[], contentLength: number): void;
}

export class H1ResponseParser extends H1MessageParser<ResponseEvents> {
  protected readonly kind = 'response';
  /** The request was HEAD: the response has no body whatever its headers say. */
  private noBody = false;
  /** The upstream's Keep-Alive: timeout=N, in ms (undefined: none said). */
  keepAliveHintMs: number | undefined;

  /** Ready for the response to a request just sent. */
  reset(headRequest: boolean): void {
    this.restart();
    this.noBody = headRequest;
    this.keepAliveHintMs = undefined;
  }

  protected parseHead(text: string): void {
    const lines = text.split('\r\n');
    const m = STATUS_LINE.exec(lines[0]!);
    if (m === null) throw new ParseError('HPE_INVALID_CONSTANT', `invalid status line ${JSON.stringify(lines[0]!.slice(0, 40))}`);
    const http10 = m[1] === '0';
    const status = Number(m[2]);
    const raw: string[] = [];
    let contentLength = -1;
    let chunked = false;
    let connection: string | undefined;
    let keepAliveHeader: string | undefined;
    for (let i = 1; i < lines.length; i++) {
      headerLine(lines[i]!, raw);
      const name = raw[raw.length - 2]!;
      const len = name.length;
      if (len !== 14 && len !== 17 && len !== 10) continue;
      const lower = name.toLowerCase();
      const value = raw[raw.length - 1]!;
      if (lower === 'content-length') {
        contentLength = contentLengthOf(value, contentLength);
      } else if (lower === 'transfer-encoding') {
        if (chunked || value.toLowerCase() !== 'chunked' || http10) throw new ParseError('HPE_INVALID_TRANSFER_ENCODING', `unsupported Transfer-Encoding ${JSON.stringify(value.slice(0, 20))}`);
        chunked = true;
      } else if (lower === 'connection') {
        connection = connection === undefined ? value : `${connection},${value}`;
      } else if (lower === 'keep-alive') {
        keepAliveHeader = value;
      }
    }
    if (chunked && contentLength !== -1) throw new ParseError('HPE_UNEXPECTED_CONTENT_LENGTH', 'Content-Length with Transfer-Encoding');
    if (status < 200) {
      // Interim (100, 102, 103): skipped, the final head follows. 101 was never asked for.
      if (status === 101) throw new ParseError('HPE_INVALID_CONSTANT', '101 Switching Protocols to a request that asked for no upgrade');
      return;
    }
    this.keepAlive = connection === undefined ? !http10 : !hasToken(connection, 'close') && (!http10 || hasToken(connection, 'keep-alive'));
    if (keepAliveHeader !== undefined) {
      const t = /(?:^|[,; ])timeout=(\d{1,9})/i.exec(keepAliveHeader);
      if (t !== null) this.keepAliveHintMs = Number(t[1]) * 1000;
    }
    const bodiless = this.noBody || status === 204 || status === 304;
    // A 204/304 that announces content may have sent some: do not read the next response after it.
    if (bodiless && !this.noBody && (chunked || contentLength > 0)) this.keepAlive = false;
    // No length and not chunked: the body runs until the connection closes.
    if (!bodiless && !chunked && contentLength < 0) this.keepAlive = false;
    this.body(bodiless, chunked, contentLength);
    this.events.onHead(status, m[3] ?? '', raw, bodiless ? 0 : contentLength);
    if (this.complete) this.events.onEnd(undefined);
  }
}
