// Full versus resumed mTLS handshake cost over loopback, with the mesh's own
// certificates (ECDSA P-256, TLS 1.3, client certificates). Prints figures,
// asserts nothing. `node bench/tls-handshake.ts [N]` (default 200 each).
// CPU is process CPU for both ends together: client and server share this process.
import tls from 'node:tls';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { CertAuthority } from '../src/controller/certs/cert-authority.ts';
import { WorkloadIdentity } from '../src/proxy/identity/workload-identity.ts';
import { spiffeId } from '../src/shared/names.ts';

const N = Number(process.argv[2] ?? 200);
const dir = await mkdtemp(join(tmpdir(), 'mesh-bench-tls-'));
const ca = await CertAuthority.open({ stateDir: dir, project: 'bench' });
const server = await WorkloadIdentity.start({ service: 'payments', signer: (r) => ca.sign(r) });
const client = await WorkloadIdentity.start({ service: 'orders', signer: (r) => ca.sign(r) });
// OpenSSL sends TLS 1.3 session tickets with the server's first write; a
// server that closes without writing hands out no ticket to resume with.
const srv = tls.createServer(server.serverOptions(), (s) => s.end('k'));
srv.listen(0, '127.0.0.1');
await once(srv, 'listening');
const port = (srv.address() as AddressInfo).port;
const expected = spiffeId(ca.trustDomain, 'bench', 'payments');

interface Round {
  ms: number[];
  cpuUs: number;
  wallMs: number;
  reused: number;
}

async function handshake(session: Buffer | undefined): Promise<{ ms: number; reused: boolean; session?: Buffer }> {
  const t0 = performance.now();
  const socket = tls.connect({ ...client.clientOptions(expected), host: '127.0.0.1', port, session });
  let ticket: Buffer | undefined;
  socket.on('session', (s: Buffer) => (ticket = s));
  await once(socket, 'secureConnect');
  const ms = performance.now() - t0;
  const reused = socket.isSessionReused();
  socket.resume();
  await once(socket, 'close');
  return { ms, reused, session: ticket };
}

async function round(resume: boolean): Promise<Round> {
  let session = resume ? (await handshake(undefined)).session : undefined;
  const ms: number[] = [];
  let reused = 0;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = 0; i < N; i++) {
    const r = await handshake(resume ? session : undefined);
    ms.push(r.ms);
    if (r.reused) reused++;
    if (resume && r.session) session = r.session;
  }
  const cpu = process.cpuUsage(cpu0);
  return { ms, cpuUs: cpu.user + cpu.system, wallMs: performance.now() - wall0, reused };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function line(name: string, r: Round): string {
  const mean = r.ms.reduce((a, b) => a + b, 0) / r.ms.length;
  return [
    name.padEnd(8),
    `p50 ${pct(r.ms, 50).toFixed(2)} ms`,
    `p99 ${pct(r.ms, 99).toFixed(2)} ms`,
    `mean ${mean.toFixed(2)} ms`,
    `CPU ${(r.cpuUs / 1000 / N).toFixed(2)} ms/handshake (both ends)`,
    `reused ${r.reused}/${N}`,
  ].join('  ');
}

await round(false); // warm up JIT and OpenSSL
const full = await round(false);
const resumed = await round(true);
console.log(`mTLS handshakes over loopback, TLS 1.3, ECDSA P-256, N=${N} each, node ${process.version}`);
console.log(line('full', full));
console.log(line('resumed', resumed));
console.log(`resumed / full: latency p50 ${(pct(resumed.ms, 50) / pct(full.ms, 50)).toFixed(2)}x, CPU ${(resumed.cpuUs / full.cpuUs).toFixed(2)}x`);

server.close();
client.close();
srv.close();
await rm(dir, { recursive: true, force: true });
