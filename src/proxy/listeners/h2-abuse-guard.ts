// Ends a downstream HTTP/2 connection that abuses the protocol: streams it
// opens and cancels at once (rapid reset, CVE-2023-44487: each reset stream
// still costs an upstream request and a circuit-breaker slot shared with every
// other client) or SETTINGS frames it sends over and over (each owes an ACK).
// A token bucket per connection: a burst, then a steady rate; over it, GOAWAY
// ENHANCE_YOUR_CALM and close. Legitimate clients stay far below both.
import http2 from 'node:http2';

export const H2_ABUSE_LIMITS = {
  resets: { burst: 200, perSecond: 100 },
  settings: { burst: 100, perSecond: 10 },
  /** The listener's SETTINGS_MAX_CONCURRENT_STREAMS. */
  streamsPerTurn: 1000,
};

class Bucket {
  #tokens: number;
  #at = Date.now();
  readonly #burst: number;
  readonly #perSecond: number;
  constructor({ burst, perSecond }: { burst: number; perSecond: number }) {
    this.#burst = burst;
    this.#perSecond = perSecond;
    this.#tokens = burst;
  }
  /** false once the bucket is empty. */
  take(): boolean {
    const now = Date.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#perSecond);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}

/** Watches one server session; `onAbuse` hears why it was ended (for the log). */
export function guardH2Session(session: http2.ServerHttp2Session, onAbuse: (why: string) => void): void {
  const resets = new Bucket(H2_ABUSE_LIMITS.resets);
  const settings = new Bucket(H2_ABUSE_LIMITS.settings);
  let ended = false;
  const end = (why: string): void => {
    if (ended || session.destroyed) return;
    ended = true;
    onAbuse(why);
    session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    // Streams already accepted are cancelled with the session: their upstream requests are aborted.
    session.destroy();
  };
  session.on('remoteSettings', () => {
    if (!settings.take()) end('settings-flood');
  });
  // Streams opened within one turn of the event loop: the frames of one read are parsed, and each stream's
  // request started, before any RST_STREAM among them is seen, so a rapid reset packed into one read looks like
  // this. More than maxConcurrentStreams at once means some were reset in the same read.
  let openedThisTurn = 0;
  const newTurn = (): void => {
    openedThisTurn = 0;
  };
  // A stream closed by a reset (the client's CANCEL, mostly). Node emits 'aborted' only while the response is
  // still open; a proxy that answered at once (e.g. 503) never sees it, so look at the close code instead.
  // One function per session, the stream as `this`: no closure per stream, and 'close' comes once (no once()).
  function onStreamClose(this: http2.ServerHttp2Stream): void {
    if (this.rstCode !== http2.constants.NGHTTP2_NO_ERROR && !resets.take()) end('rapid-reset');
  }
  session.on('stream', (stream) => {
    // Node goes on parsing the rest of a read after the session is destroyed (by this guard or by Node's own
    // limits) and emits its streams: refuse them here; the listener skips requests of destroyed streams.
    if (ended || session.destroyed) {
      if (!ended) {
        ended = true;
        onAbuse('rapid-reset');
      }
      stream.destroy();
      return;
    }
    if (openedThisTurn++ === 0) setImmediate(newTurn);
    if (openedThisTurn > H2_ABUSE_LIMITS.streamsPerTurn) {
      end('rapid-reset');
      return;
    }
    stream.on('close', onStreamClose);
  });
}
