// Builders for the mesh HTTP/2 engine's tests (src/proxy/h2/): a server and a
// client of either engine (ours or node:http2) over TCP or TLS on 127.0.0.1
// port 0, one interface for the streams of both, a raw frame-level peer, and a
// sniffer that records the frames crossing our engine's socket.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { H2Session, type H2SessionOptions } from '../../../src/proxy/h2/h2-session.ts';
import { H2_PREFACE, h2Frame } from '../../harness/h2-frame.ts';

export type T = { after(fn: () => unknown): void };
export type Engine = 'mesh' | 'node';
export type Transport = 'tcp' | 'tls';
export type Headers = Record<string, string | string[] | undefined>;
type Listener = (...args: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

export { H2_PREFACE, h2Frame };

export const FrameType = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const Code = { NO_ERROR: 0, PROTOCOL_ERROR: 1, FLOW_CONTROL_ERROR: 3, FRAME_SIZE_ERROR: 6, REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9 } as const;
export const MiB = 1 << 20;

// ---- which ends talk to each other

export interface Pairing {
  client: Engine;
  server: Engine;
  transport: Transport;
}

const ENGINE_NAME: Record<Engine, string> = { mesh: 'mesh', node: 'node:http2' };

export function pairingName(p: Pairing): string {
  return `${ENGINE_NAME[p.client]} client → ${ENGINE_NAME[p.server]} server over ${p.transport.toUpperCase()}`;
}

/** Our engine against node:http2 both ways, and against itself, over TCP and TLS. */
export const INTEROP: readonly Pairing[] = (['tcp', 'tls'] as const).flatMap((transport) => [
  { client: 'mesh', server: 'node', transport },
  { client: 'node', server: 'mesh', transport },
  { client: 'mesh', server: 'mesh', transport },
]);

// ---- certificate

let cert: { key: string; cert: string } | undefined;

/** A self-signed P-256 certificate for IP 127.0.0.1 (made once per process; read-only). */
export function testCert(): { key: string; cert: string } {
  if (cert) return cert;
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-h2-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=h2-engine',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    cert = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
    return cert;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- streams of either engine, as the tests use them

export interface StreamLike {
  readonly rstCode: number | undefined;
  readonly endAfterHeaders: boolean;
  write(chunk: Buffer | string): boolean;
  end(chunk?: Buffer | string): unknown;
  close(code?: number): void;
  pause(): unknown;
  resume(): unknown;
  on(event: string, fn: Listener): unknown;
  once(event: string, fn: Listener): unknown;
  removeListener(event: string, fn: Listener): unknown;
  pipe<W extends NodeJS.WritableStream>(dest: W): W;
}

export interface ServerStreamLike extends StreamLike {
  respond(headers: Record<string, string | string[] | number>, options?: { endStream?: boolean; waitForTrailers?: boolean }): void;
  sendTrailers(headers: Record<string, string>): void;
  additionalHeaders(headers: Record<string, string | number>): void;
}

/** The server side of one connection, as a handler reaches it. */
export interface ServerConn {
  /** Graceful close: GOAWAY, streams in flight finish. */
  close(): void;
  /** The TCP (or TLS) socket under the session, destroyed at once. */
  destroySocket(): void;
  readonly closed: Promise<void>;
  readonly errors: Error[];
}

export type StreamHandler = (stream: ServerStreamLike, headers: Headers, conn: ServerConn) => void;

export interface TestServer {
  port: number;
  /** Connections in the order they came. */
  conns: ServerConn[];
  close(): Promise<void>;
}

export interface ServerOptions {
  mesh?: Partial<H2SessionOptions>;
  node?: http2.ServerOptions;
  /** Called with our engine's session as soon as it exists, before any byte is read. */
  onMeshSession?: (session: H2Session) => void;
}

function settleable(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export async function startServer(t: T, engine: Engine, transport: Transport, onStream: StreamHandler, opts: ServerOptions = {}): Promise<TestServer> {
  const conns: ServerConn[] = [];
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  let server: net.Server;
  const raw = new Set<net.Socket>();
  const keepRaw = (socket: net.Socket): void => {
    raw.add(socket);
    socket.on('close', () => raw.delete(socket));
  };
  if (engine === 'mesh') {
    const serve = (socket: net.Socket): void => {
      track(socket);
      const session = new H2Session(socket, true, opts.mesh);
      const done = settleable();
      const conn: ServerConn = { close: () => session.close(), destroySocket: () => socket.destroy(), closed: done.promise, errors: [] };
      conns.push(conn);
      session.on('error', (err: Error) => conn.errors.push(err));
      session.on('close', done.resolve);
      session.on('stream', (stream: ServerStreamLike, headers: Headers) => onStream(stream, headers, conn));
      opts.onMeshSession?.(session);
    };
    server = transport === 'tls' ? tls.createServer({ ...testCert(), ALPNProtocols: ['h2'] }, serve) : net.createServer(serve);
  } else {
    const h2 = transport === 'tls' ? http2.createSecureServer({ ...testCert(), ...opts.node }) : http2.createServer({ ...opts.node });
    // node:http2's session.socket refuses destroy(): keep the real socket by its client port.
    const byPort = new Map<number, net.Socket>();
    h2.on(transport === 'tls' ? 'secureConnection' : 'connection', (socket: net.Socket) => {
      track(socket);
      byPort.set(socket.remotePort!, socket);
    });
    const connOf = new WeakMap<http2.ServerHttp2Session, ServerConn>();
    h2.on('session', (session: http2.ServerHttp2Session) => {
      const done = settleable();
      const conn: ServerConn = {
        close: () => session.close(),
        destroySocket: () => byPort.get(session.socket.remotePort!)?.destroy(),
        closed: done.promise,
        errors: [],
      };
      conns.push(conn);
      connOf.set(session, conn);
      session.on('error', (err: Error) => conn.errors.push(err));
      session.on('close', done.resolve);
    });
    h2.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      onStream(stream as unknown as ServerStreamLike, headers as Headers, connOf.get(stream.session as http2.ServerHttp2Session)!);
    });
    server = h2;
  }
  // Every TCP connection, TLS handshake done or not, so close() leaves nothing open.
  server.on('connection', keepRaw);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const close = (): Promise<void> =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      for (const s of raw) s.destroy();
      server.close(() => r());
    });
  t.after(close);
  return { port, conns, close };
}

// ---- clients

export interface TestClient {
  engine: Engine;
  /** The TCP (or TLS) socket under the session. */
  socket: net.Socket;
  session: H2Session | http2.ClientHttp2Session;
  /** `waitForTrailers` is node:http2's only (our client sends no trailers). */
  request(headers: Headers, options: { endStream: boolean; waitForTrailers?: boolean }): StreamLike;
  on(event: string, fn: Listener): void;
  readonly closed: Promise<void>;
  readonly errors: Error[];
  close(): void;
  destroy(): void;
}

export interface ClientOptions {
  mesh?: Partial<H2SessionOptions>;
  node?: http2.ClientSessionOptions;
}

export function connectSocket(transport: Transport, port: number, alpn: string[] = ['h2']): net.Socket {
  return transport === 'tls' ? tls.connect({ host: '127.0.0.1', port, ca: testCert().cert, ALPNProtocols: alpn }) : net.connect(port, '127.0.0.1');
}

export function startClient(t: T, engine: Engine, transport: Transport, port: number, opts: ClientOptions = {}): TestClient {
  const socket = connectSocket(transport, port);
  socket.on('error', () => {});
  const done = settleable();
  const errors: Error[] = [];
  let session: H2Session | http2.ClientHttp2Session;
  if (engine === 'mesh') session = new H2Session(socket, false, opts.mesh);
  else session = http2.connect(`${transport === 'tls' ? 'https' : 'http'}://127.0.0.1:${port}`, { ...opts.node, createConnection: () => socket });
  const events = session as unknown as EventEmitter;
  events.on('error', (err: Error) => errors.push(err));
  events.on('close', done.resolve);
  const client: TestClient = {
    engine,
    socket,
    session,
    request: (headers, options) => (session as H2Session).request(headers as Record<string, string>, options) as unknown as StreamLike,
    on: (event, fn) => void events.on(event, fn),
    closed: done.promise,
    errors,
    close: () => session.close(),
    destroy: () => {
      session.destroy();
      socket.destroy();
    },
  };
  t.after(() => client.destroy());
  return client;
}

export async function startPair(t: T, p: Pairing, onStream: StreamHandler, opts: { server?: ServerOptions; client?: ClientOptions } = {}): Promise<{ server: TestServer; client: TestClient }> {
  const server = await startServer(t, p.server, p.transport, onStream, opts.server);
  const client = startClient(t, p.client, p.transport, server.port, opts.client);
  return { server, client };
}

/** A request head with every pseudo-header (our engine sends only what it is given). */
export function requestHeaders(transport: Transport, method: string, path: string, extra: Headers = {}): Headers {
  return { ':method': method, ':path': path, ':scheme': transport === 'tls' ? 'https' : 'http', ':authority': '127.0.0.1', ...extra };
}

// ---- reading and waiting

export interface Exchange {
  headers: Headers;
  body: Buffer;
  trailers: Headers | undefined;
  /** END_STREAM on the response's HEADERS frame (its flags: node:http2's endAfterHeaders stays false on a client). */
  endAfterHeaders: boolean;
  rstCode: number | undefined;
}

/** The whole response of a client stream; rejects on 'error' or a 'close' before the end. */
export function collect(stream: StreamLike): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    let headers: Headers | undefined;
    let trailers: Headers | undefined;
    let ended = false;
    let flags = 0;
    const chunks: Buffer[] = [];
    stream.once('response', (h: Headers, f: number) => {
      headers = h;
      flags = f;
    });
    stream.once('trailers', (h: Headers) => (trailers = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => (ended = true));
    stream.once('error', reject);
    stream.once('close', () => {
      if (headers !== undefined && ended) resolve({ headers, body: Buffer.concat(chunks), trailers, endAfterHeaders: (flags & 0x1) !== 0, rstCode: stream.rstCode });
      else reject(new Error(`stream closed ${headers === undefined ? 'without a response' : 'before the end of the body'} (rstCode ${stream.rstCode})`));
    });
  });
}

/** A stream's body up to 'end'. */
export function readAll(stream: StreamLike): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
    stream.once('close', () => reject(new Error(`stream closed before its end (rstCode ${stream.rstCode})`)));
  });
}

/** Events of an emitter, in order, as 'name' or 'name:code' for errors. */
export function recordEvents(emitter: { on(event: string, fn: Listener): unknown }, names: string[]): string[] {
  const seen: string[] = [];
  for (const name of names) emitter.on(name, (arg: unknown) => seen.push(name === 'error' ? `error:${(arg as { code?: string }).code}` : name));
  return seen;
}

export function nextEvent<A = unknown>(emitter: { once(event: string, fn: Listener): unknown }, name: string): Promise<A> {
  return new Promise((resolve) => emitter.once(name, (arg: A) => resolve(arg)));
}

/** `p`, or a rejection naming what did not happen: a safety net, never a timing the test depends on. */
export async function within<V>(p: Promise<V>, ms: number, what: string): Promise<V> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Letters and digits, so the value is a valid field value and its Huffman code stays near 6 bits a character. */
export function randomToken(n: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const bytes = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[bytes[i]! % alphabet.length];
  return s;
}

// ---- frames on the wire

export interface WireFrame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** Splits a byte stream into frames, after `skip` bytes of connection preface. */
export function frameParser(skip: number, onFrame: (f: WireFrame) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  let toSkip = skip;
  return (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    if (toSkip > 0) {
      const n = Math.min(toSkip, buf.length);
      toSkip -= n;
      buf = buf.subarray(n);
    }
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      onFrame({ type: buf[3]!, flags: buf[4]!, stream: buf.readUInt32BE(5) & 0x7fffffff, payload: Buffer.from(buf.subarray(9, 9 + len)) });
      buf = buf.subarray(9 + len);
    }
  };
}

/** Records the frames our session reads from and writes to `socket` (install before any byte moves). */
export function sniffFrames(socket: net.Socket, isServer: boolean): { inbound: WireFrame[]; outbound: WireFrame[] } {
  const log = { inbound: [] as WireFrame[], outbound: [] as WireFrame[] };
  socket.on('data', frameParser(isServer ? H2_PREFACE.length : 0, (f) => log.inbound.push(f)));
  const parseOut = frameParser(isServer ? 0 : H2_PREFACE.length, (f) => log.outbound.push(f));
  const write = socket.write;
  socket.write = function (this: net.Socket, chunk: Uint8Array | string, ...rest: unknown[]): boolean {
    parseOut(Buffer.from(chunk as Uint8Array));
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof socket.write;
  return log;
}

/** A peer that speaks HTTP/2 frame by frame: what it receives, and a wait for the frame a test expects. */
export interface RawPeer {
  socket: net.Socket;
  frames: WireFrame[];
  /** Every byte received, the peer's preface included. */
  received: Buffer[];
  send(...bufs: Buffer[]): void;
  /** The first frame (already received or still to come) that matches; rejects if the connection closes first. */
  frame(match: (f: WireFrame) => boolean, what: string): Promise<WireFrame>;
  /** Resolves when the socket has closed, with the frames received. */
  closed: Promise<WireFrame[]>;
  /** The peer ended its side (FIN) or the connection closed. */
  ended: Promise<void>;
}

export function rawPeer(socket: net.Socket, skipPreface: number): RawPeer {
  const frames: WireFrame[] = [];
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  const waiters: { match: (f: WireFrame) => boolean; resolve: (f: WireFrame) => void; reject: (e: Error) => void; what: string }[] = [];
  let isClosed = false;
  const closed = new Promise<WireFrame[]>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      for (const w of waiters.splice(0)) w.reject(new Error(`connection closed before ${w.what}; frames: ${describeFrames(frames)}`));
      resolve(frames);
    }),
  );
  const ended = new Promise<void>((resolve) => {
    socket.once('end', resolve);
    socket.once('close', resolve);
  });
  socket.on('error', () => {});
  socket.on(
    'data',
    frameParser(skipPreface, (f) => {
      frames.push(f);
      for (let i = 0; i < waiters.length; i++) {
        if (waiters[i]!.match(f)) {
          waiters[i]!.resolve(f);
          waiters.splice(i--, 1);
        }
      }
    }),
  );
  return {
    socket,
    frames,
    received,
    send: (...bufs) => void socket.write(Buffer.concat(bufs)),
    frame: (match, what) => {
      const found = frames.find(match);
      if (found) return Promise.resolve(found);
      if (isClosed) return Promise.reject(new Error(`connection closed before ${what}; frames: ${describeFrames(frames)}`));
      return new Promise((resolve, reject) => waiters.push({ match, resolve, reject, what }));
    },
    closed,
    ended,
  };
}

const TYPE_NAMES = Object.fromEntries(Object.entries(FrameType).map(([k, v]) => [v, k]));

export function describeFrames(frames: readonly WireFrame[]): string {
  return frames.map((f) => `${TYPE_NAMES[f.type] ?? f.type}(stream ${f.stream}, flags ${f.flags}, ${f.payload.length} B${f.type === FrameType.GOAWAY || f.type === FrameType.RST_STREAM ? `, code ${f.payload.readUInt32BE(f.type === FrameType.GOAWAY ? 4 : 0)}` : ''})`).join(' ') || 'none';
}

/** A raw client connected to `port` (nothing sent yet). */
export async function rawClient(t: T, port: number, transport: Transport = 'tcp'): Promise<RawPeer> {
  const socket = connectSocket(transport, port);
  t.after(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => resolve());
    socket.once('error', reject);
  });
  return rawPeer(socket, 0);
}

/** A raw server: each accepted connection becomes a RawPeer that skips the client's preface. */
export async function rawServer(t: T, transport: Transport = 'tcp'): Promise<{ port: number; peer: Promise<RawPeer> }> {
  let accept!: (p: RawPeer) => void;
  const peer = new Promise<RawPeer>((r) => (accept = r));
  const sockets = new Set<net.Socket>();
  const onSocket = (socket: net.Socket): void => {
    sockets.add(socket);
    accept(rawPeer(socket, H2_PREFACE.length));
  };
  const server = transport === 'tls' ? tls.createServer({ ...testCert(), ALPNProtocols: ['h2'] }, onSocket) : net.createServer(onSocket);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, peer };
}

export function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
}

export function settingsPayload(settings: [number, number][]): Buffer {
  const b = Buffer.alloc(6 * settings.length);
  settings.forEach(([id, v], i) => {
    b.writeUInt16BE(id, 6 * i);
    b.writeUInt32BE(v >>> 0, 6 * i + 2);
  });
  return b;
}

export function goawayCode(f: WireFrame): number {
  return f.payload.readUInt32BE(4);
}

// HPACK blocks written by hand (RFC 7541 static table), so raw tests do not lean on the codec under test.
/** :method POST (3), :scheme http (6), :path / (4), :authority "a" (literal, name index 1). */
export const POST_BLOCK = Buffer.from([0x83, 0x86, 0x84, 0x01, 0x01, 0x61]);
/** :method GET (2), :scheme http (6), :path / (4), :authority "a". */
export const GET_BLOCK = Buffer.from([0x82, 0x86, 0x84, 0x01, 0x01, 0x61]);
/** :status 200 (8). */
export const STATUS_200_BLOCK = Buffer.from([0x88]);
/** Indexed field 0: never valid (RFC 7541 §6.1), a COMPRESSION_ERROR. */
export const BAD_HPACK_BLOCK = Buffer.from([0x80]);
