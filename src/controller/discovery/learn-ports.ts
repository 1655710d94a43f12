// Learns the TCP ports a running app container listens on when nothing
// declares them (no ports/expose/EXPOSE/mesh.config): a short-lived helper
// container from the mesh image joins the app's network namespace
// (`network_mode: container:<id>`, so the app's image needs no shell or tool)
// and prints /proc/net/tcp and /proc/net/tcp6; the LISTEN sockets there are
// the ports (DESIGN.md, "Topology inside Docker", ports).
import type Docker from 'dockerode';
import { Labels } from '../../shared/names.ts';

/** Prints both tables; parsing happens here, where it is tested. No `$`, no shell. */
const SCRIPT = "const fs=require('fs');for(const f of ['/proc/net/tcp','/proc/net/tcp6']){try{process.stdout.write(fs.readFileSync(f,'utf8'))}catch{}}";

const LISTEN = '0A';

/** True for 127.0.0.0/8, ::1 and ::ffff:127.x as /proc/net/tcp{,6} spell them (hex, 32-bit words in host order). */
function loopback(hexAddr: string): boolean {
  const a = hexAddr.toUpperCase();
  if (a.length === 8) return a.endsWith('7F'); // little-endian IPv4: the first octet is the last byte
  if (a === '00000000000000000000000001000000') return true; // ::1
  return a.startsWith('0000000000000000FFFF0000') && a.endsWith('7F'); // ::ffff:127.x.y.z
}

/**
 * Ports with a socket in LISTEN state on an address the sidecar can reach
 * (any or a non-loopback address: a socket on 127.0.0.1 only is private to
 * the app's namespace, the sidecar could not forward to it). Sorted, unique.
 */
export function parseListeningPorts(procNetTcp: string): number[] {
  const ports = new Set<number>();
  for (const line of procNetTcp.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // "sl local_address rem_address st ..."; the header line has "local_address" there.
    if (cols.length < 4 || cols[3] !== LISTEN) continue;
    const [addr, portHex] = cols[1]!.split(':');
    if (!addr || !portHex || !/^[0-9A-Fa-f]+$/.test(portHex) || loopback(addr)) continue;
    const port = parseInt(portHex, 16);
    if (port > 0 && port < 65536) ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}

export interface LearnPortsOptions {
  docker: Docker;
  /** The app container (full id). */
  container: string;
  /** The mesh image: it has node, which reads /proc for us. */
  image: string;
  project: string;
  timeoutMs?: number;
}

/**
 * Runs the helper in the container's network namespace and returns the ports
 * it listens on ([] when none yet). The helper is labelled with the project
 * (so `meshctl down` removes a leftover) and `mesh.role=port-probe` (so
 * discovery ignores it), and is always removed.
 */
export async function learnListeningPorts(o: LearnPortsOptions): Promise<number[]> {
  const helper = await o.docker.createContainer({
    Image: o.image,
    Entrypoint: ['/usr/local/bin/node'],
    Cmd: ['-e', SCRIPT],
    Tty: true, // raw output, no multiplexing header to strip
    Labels: { [Labels.composeProject]: o.project, [Labels.role]: 'port-probe', 'mesh.probed': o.container },
    HostConfig: { NetworkMode: `container:${o.container}` },
  });
  try {
    await helper.start();
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the port probe did not finish in time')), o.timeoutMs ?? 15_000).unref());
    const exit = (await Promise.race([helper.wait(), timeout])) as { StatusCode?: number };
    const out = (await helper.logs({ stdout: true, stderr: false, follow: false })) as unknown as Buffer;
    if (exit.StatusCode !== 0) throw new Error(`the port probe exited ${exit.StatusCode}`);
    return parseListeningPorts(out.toString('utf8').replace(/\r/g, ''));
  } finally {
    await helper.remove({ force: true }).catch(() => {});
  }
}
