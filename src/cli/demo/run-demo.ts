// `meshctl demo`: a sample upstream and a proxy in front of it on loopback
// (ports chosen by the OS), a few requests through it, and what the proxy saw.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { startProxy } from '../../proxy/proxy.ts';
import type { SnapshotInput } from '../../shared/snapshot.ts';

export interface DemoOptions {
  keep?: boolean;
  out?: NodeJS.WritableStream;
}

function sampleUpstream(name: string): http.Server {
  return http.createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      const body = JSON.stringify({ service: name, method: req.method, path: req.url, bodyBytes: n, traceparent: req.headers.traceparent, forwardedFor: req.headers['x-forwarded-for'] });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function call(port: number, host: string, method: string, path: string, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { host }, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function runDemo(opts: DemoOptions = {}): Promise<void> {
  const out = opts.out ?? process.stdout;
  const say = (s = ''): void => void out.write(s + '\n');
  const v1 = sampleUpstream('payments-v1');
  const v2 = sampleUpstream('payments-v2');
  const [p1, p2] = [await listen(v1), await listen(v2)];
  const logLines: string[] = [];
  const accessLog = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const snapshot: SnapshotInput = {
    version: 1,
    node: { service: 'orders', project: 'demo' },
    listeners: [
      {
        name: 'outbound-http',
        address: '127.0.0.1',
        port: 0,
        direction: 'outbound',
        protocol: 'auto',
        routes: [
          { name: 'payments', match: { hosts: ['payments'] }, service: 'payments', destinations: [{ cluster: 'payments-v1', weight: 90 }, { cluster: 'payments-v2', weight: 10 }] },
        ],
      },
    ],
    clusters: [
      { name: 'payments-v1', service: 'payments', endpoints: [{ address: '127.0.0.1', port: p1, labels: { version: 'v1' } }] },
      { name: 'payments-v2', service: 'payments', endpoints: [{ address: '127.0.0.1', port: p2, labels: { version: 'v2' } }] },
    ],
  };
  const proxy = await startProxy({ admin: { host: '127.0.0.1', port: 0 }, accessLog, snapshot });
  const port = proxy.listenerAddress('outbound-http')!.port;
  const admin = proxy.adminAddress()!;
  say(`meshctl demo: upstreams payments-v1 on 127.0.0.1:${p1}, payments-v2 on 127.0.0.1:${p2}`);
  say(`proxy for "orders" on 127.0.0.1:${port} (route payments: 90% v1, 10% v2), admin on 127.0.0.1:${admin.port}`);
  say();
  const shots: [string, string, string, string?][] = [
    ['payments', 'GET', '/balance'],
    ['payments:8080', 'POST', '/charge', '{"amount":42}'],
    ['payments', 'GET', '/balance?again=1'],
    ['unknown-service', 'GET', '/'],
  ];
  for (const [host, method, path, body] of shots) {
    const r = await call(port, host, method, path, body);
    say(`$ ${method} http://${host}${path}  →  ${r.status}${r.headers['x-mesh-error'] ? `  x-mesh-error: ${r.headers['x-mesh-error']}` : ''}`);
    say(`  ${r.body.trim()}`);
  }
  let v1n = 0;
  for (let i = 0; i < 100; i++) if (JSON.parse((await call(port, 'payments', 'GET', '/split')).body).service === 'payments-v1') v1n++;
  say(`$ 100 × GET http://payments/split  →  ${v1n} to v1, ${100 - v1n} to v2`);
  await new Promise((r) => setImmediate(r));
  say();
  say('access log (one JSON line per request; first line shown):');
  say(`  ${logLines[0]}`);
  say();
  say('metrics (from /metrics):');
  const metrics = await (await fetch(`http://127.0.0.1:${admin.port}/metrics`)).text();
  for (const l of metrics.split('\n').filter((l) => l.startsWith('mesh_requests_total') || l.startsWith('mesh_proxy_errors_total')).slice(0, 5)) say(`  ${l}`);
  say();
  const curls = [
    `curl -H 'Host: payments' http://127.0.0.1:${port}/hello`,
    `curl http://127.0.0.1:${admin.port}/metrics`,
    `curl http://127.0.0.1:${admin.port}/stats`,
    `curl http://127.0.0.1:${admin.port}/config`,
  ];
  if (!opts.keep) {
    say('Run `meshctl demo --keep` to keep it running and try:');
    for (const c of curls) say(`  ${c}`);
    await proxy.close();
    v1.close();
    v2.close();
    return;
  }
  say('Running until Ctrl-C. Try:');
  for (const c of curls) say(`  ${c}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await proxy.drain(1000);
  v1.close();
  v2.close();
}
