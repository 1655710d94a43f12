// Upgrade requests (WebSocket and others): the request head is written to a
// fresh upstream connection (mTLS to a peer sidecar when the cluster says so),
// then bytes flow raw both ways, 101 included.
import net from 'node:net';
import type { Exchange } from '../http/exchange.ts';
import type { UpstreamEndpoint } from './upstream-endpoint.ts';
import { upstreamRequestHeaders } from '../http/upstream-request-headers.ts';
import { sendProxyError } from '../http/send-proxy-error.ts';
import { classifyUpstreamError } from './classify-upstream-error.ts';

export function forwardUpgrade(ex: Exchange, ep: UpstreamEndpoint): void {
  const client = ex.socket!;
  const req = ex.req;
  const headers = upstreamRequestHeaders(ex, true);
  let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  head += '\r\n';
  // A peer sidecar's inbound port is strict mTLS: a plaintext upgrade would be refused there.
  let upstream: net.Socket;
  try {
    upstream = ep.tls ? ep.tls.connect(['http/1.1']) : net.connect({ host: ep.address, port: ep.port, noDelay: true });
  } catch (err) {
    sendProxyError(ex, 'upstream-connect-failure', `${ex.cluster?.name ?? ''} ${ep.hostPort} ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return;
  }
  ep.inflight++;
  ep.requests++;
  let connected = false;
  let answered = false;
  const sentNs = process.hrtime.bigint();
  ex.upstream = { abort: () => upstream.destroy() };
  upstream.once(ep.tls ? 'secureConnect' : 'connect', () => {
    connected = true;
    upstream.write(head);
    if (ex.head && ex.head.length) upstream.write(ex.head);
    client.pipe(upstream);
    upstream.pipe(client, { end: false });
  });
  // Closed before any answer: a clean 502 naming the hop, not a silent hang-up.
  upstream.once('end', () => {
    if (answered) client.end();
    else sendProxyError(ex, 'upstream-reset', `${ex.cluster?.name ?? ''} ${ep.hostPort} closed before answering the upgrade`);
  });
  upstream.once('data', (chunk: Buffer) => {
    answered = true;
    const now = process.hrtime.bigint();
    ep.observe(Number(now - sentNs), now);
    // "HTTP/1.1 101 ..." — the status is for logs and metrics only.
    ex.status = Number(chunk.toString('latin1', 9, 12)) || 0;
  });
  upstream.on('data', (c: Buffer) => {
    ex.bytesOut += c.length;
  });
  client.on('data', (c: Buffer) => {
    ex.bytesIn += c.length;
  });
  upstream.on('error', (err) => {
    if (!connected) {
      ep.observeFailure(process.hrtime.bigint());
      const { code } = classifyUpstreamError(err, false);
      sendProxyError(ex, 'upstream-connect-failure', `${ex.cluster?.name ?? ''} ${ep.hostPort} ${code}`);
      return;
    }
    if (!answered) {
      sendProxyError(ex, 'upstream-reset', `${ex.cluster?.name ?? ''} ${ep.hostPort} ${classifyUpstreamError(err, true).code}`);
      return;
    }
    client.destroy();
  });
  client.on('error', () => upstream.destroy());
  // pipe() pauses the client when the upstream goes away; a client socket reading into a fixed buffer
  // (listeners/h1-server-connection.ts) then stops reading at all, and would never see its own close.
  client.on('pause', () => {
    if (upstream.destroyed || upstream.writableFinished) client.resume();
  });
  // Clean ends travel through the pipes (half-close); only failures destroy.
  upstream.on('close', () => {
    ep.inflight--;
  });
  client.on('close', () => upstream.destroy());
}
