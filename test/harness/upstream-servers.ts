// Upstream servers for proxy tests, each on 127.0.0.1 port 0 and closed by the
// caller (t.after(() => server.close())).
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Upstream {
  port: number;
  /** Connections the server accepted so far (to check reuse). */
  connections: number;
  close(): Promise<void>;
}

function portOf(s: net.Server): number {
  return (s.address() as AddressInfo).port;
}

/** An HTTP/1.1 upstream; the handler gets plain node:http req/res. */
export async function httpUpstream(handler: http.RequestListener): Promise<Upstream & { server: http.Server }> {
  const server = http.createServer({ keepAliveTimeout: 30_000, requestTimeout: 0 }, handler);
  const u = { port: 0, connections: 0, server, close: async () => {} };
  server.on('connection', () => u.connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  u.port = portOf(server);
  u.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return u;
}

/** Answers every request with JSON describing what arrived (method, url, raw headers, body length) and its name. */
export function echoHandler(name: string): http.RequestListener {
  return (req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      const body = JSON.stringify({ name, method: req.method, url: req.url, rawHeaders: req.rawHeaders, headers: req.headers, bodyBytes: n });
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Upstream-Name': name, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
}

/** An h2c (prior knowledge) upstream with the stream API. */
export async function http2Upstream(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void): Promise<Upstream & { server: http2.Http2Server }> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  const u = { port: 0, connections: 0, server, close: async () => {} };
  server.on('session', (s) => {
    u.connections++;
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', onStream);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  u.port = portOf(server);
  u.close = () =>
    new Promise<void>((r) => {
      for (const s of sessions) s.destroy();
      server.close(() => r());
    });
  return u;
}

/** A raw TCP upstream. */
export async function tcpUpstream(onSocket: (s: net.Socket) => void): Promise<Upstream> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    u.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onSocket(s);
  });
  const u = { port: 0, connections: 0, close: async () => {} };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  u.port = portOf(server);
  u.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return u;
}

/** A port that nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = portOf(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
