// A strict, incremental HTTP/1.1 *request* parser for the proxy's downstream
// server (listeners/h1-server-connection.ts): request line and the framing
// rules of requests. Header fields, bodies and trailers are
// h1-message-parser.ts's. A request's body is Content-Length or chunked,
// never until close. What a smuggling attack leans on is refused: Content-Length
// with Transfer-Encoding, a second Content-Length, a transfer coding other
// than a lone "chunked" (the proxy could not pass it on faithfully), and
// Transfer-Encoding on HTTP/1.0.
import { H1MessageParser, ParseError, TOKEN, contentLengthOf, hasToken, headerLine, type BodyEvents } from './h1-message-parser.ts';

// method SP request-target SP HTTP/1.x; the target has no spaces or control characters.
const REQUEST_LINE = /^([^ ]+) ([^\x00-\x20\x7f]+) HTTP\/1\.([01])$/;

/** What the head of a request says about the connection and the body. */
export interface RequestHeadInfo {
  /** HTTP/1.x minor version. */
  minor: number;
  /** The request asks to switch protocols (Connection: upgrade with Upgrade), or is a CONNECT. */
  upgrade: boolean;
  /** Expect: 100-continue. */
  expectContinue: boolean;
  /** The request has a body (Content-Length above 0, or chunked). */
  hasBody: boolean;
}

/** What the parser reports, in order: one head, body chunks, then the end (with trailers, if any). */
export interface RequestEvents extends BodyEvents {
  onRequest(method: string, url: string, rawHeaders: string[], info: RequestHeadInfo): void;
}

export class H1RequestParser extends H1MessageParser<RequestEvents> {
  protected readonly kind = 'request';
  protected override readonly skipsEmptyLines = true;

  /** Ready for the next request on the connection. */
  reset(): void {
    this.restart();
  }

  protected parseHead(text: string): void {
    const lines = text.split('\r\n');
    // Empty lines before a request line are allowed (RFC 9112 2.2), after a body's trailing CRLF.
    let first = 0;
    while (first < lines.length - 1 && lines[first] === '') first++;
    const m = REQUEST_LINE.exec(lines[first]!);
    if (m === null || !TOKEN.test(m[1]!)) throw new ParseError('HPE_INVALID_METHOD', `invalid request line ${JSON.stringify(lines[first]!.slice(0, 40))}`);
    const minor = m[3] === '0' ? 0 : 1;
    const raw: string[] = [];
    let contentLength = -1;
    let chunked = false;
    let connection: string | undefined;
    let upgradeHeader = false;
    let expectContinue = false;
    for (let i = first + 1; i < lines.length; i++) {
      headerLine(lines[i]!, raw);
      const name = raw[raw.length - 2]!;
      const len = name.length;
      if (len !== 14 && len !== 17 && len !== 10 && len !== 7 && len !== 6) continue;
      const lower = name.toLowerCase();
      const value = raw[raw.length - 1]!;
      if (lower === 'content-length') {
        contentLength = contentLengthOf(value, contentLength);
      } else if (lower === 'transfer-encoding') {
        if (chunked || value.toLowerCase() !== 'chunked' || minor === 0) throw new ParseError('HPE_INVALID_TRANSFER_ENCODING', `unsupported Transfer-Encoding ${JSON.stringify(value.slice(0, 20))}`);
        chunked = true;
      } else if (lower === 'connection') {
        connection = connection === undefined ? value : `${connection},${value}`;
      } else if (lower === 'upgrade') {
        upgradeHeader = true;
      } else if (lower === 'expect') {
        expectContinue = value.toLowerCase() === '100-continue';
      }
    }
    if (chunked && contentLength !== -1) throw new ParseError('HPE_UNEXPECTED_CONTENT_LENGTH', 'Content-Length with Transfer-Encoding');
    this.keepAlive = connection === undefined ? minor === 1 : !hasToken(connection, 'close') && (minor === 1 || hasToken(connection, 'keep-alive'));
    const method = m[1]!;
    const upgrade = method === 'CONNECT' || (upgradeHeader && connection !== undefined && hasToken(connection, 'upgrade'));
    // An upgraded connection's bytes after the head belong to the new protocol: no body here.
    this.body(upgrade, chunked, contentLength < 0 ? 0 : contentLength);
    this.events.onRequest(method, m[2]!, raw, { minor, upgrade, expectContinue: expectContinue && minor === 1, hasBody: !upgrade && (chunked || contentLength > 0) });
    if (this.complete && !upgrade) this.events.onEnd(undefined);
  }
}
