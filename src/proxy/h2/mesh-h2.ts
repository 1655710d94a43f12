// Where the proxy uses its own HTTP/2 engine (h2-session.ts): both ends of
// the mTLS hop between sidecars. Plaintext h2c from and to apps stays on
// node:http2. MESHCTL_H2_ENGINE=node puts the mTLS hop back on node:http2
// (to compare the two, or to rule the engine out when debugging).
import type tls from 'node:tls';
import { H2Session, type H2SessionOptions } from './h2-session.ts';
import { H2_CONNECTION_WINDOW, H2_SETTINGS, H2_STREAM_WINDOW } from '../clusters/h2-windows.ts';

export const meshH2Enabled = process.env.MESHCTL_H2_ENGINE !== 'node';

const OPTIONS: H2SessionOptions = {
  streamWindow: H2_STREAM_WINDOW,
  connectionWindow: H2_CONNECTION_WINDOW,
  maxConcurrentStreams: H2_SETTINGS.maxConcurrentStreams,
  maxHeaderListSize: 64 * 1024,
};

/** A client session on a TLS connection that offered ALPN h2. */
export function meshH2Client(socket: tls.TLSSocket): H2Session {
  return new H2Session(socket, false, OPTIONS);
}

/** A server session on a verified TLS connection that chose ALPN h2. */
export function meshH2Server(socket: tls.TLSSocket): H2Session {
  return new H2Session(socket, true, OPTIONS);
}
