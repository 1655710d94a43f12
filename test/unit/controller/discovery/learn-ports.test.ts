// Reading listening ports from /proc/net/tcp and /proc/net/tcp6 as the
// port-learning helper prints them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { parseListeningPorts } from '../../../../src/controller/discovery/learn-ports.ts';

const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0B00D50A:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
   3: 0B00D50A:1F90 0C00D50A:C350 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 20 4 30 10 -1
   4: 0100007F:D431 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1 0000000000000000 100 0 0 10 0
`;
const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1B58 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0CEA 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:0CEB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8 1 0000000000000000 100 0 0 10 0
`;

test('LISTEN sockets on any or a non-loopback address; established and loopback-only ones are left out', () => {
  // 0x1F90 = 8080 (0.0.0.0 and again on 10.213.0.11), 0x0050 = 80, 0x1B58 = 7000 ([::]);
  // 127.0.0.1:9090, 127.0.0.1:54321, [::1]:3306, [::ffff:127.0.0.1]:3307 and the established 8080 are not.
  assert.deepEqual(parseListeningPorts(tcp + tcp6), [80, 7000, 8080]);
  assert.deepEqual(parseListeningPorts(''), []);
});

test('a real listener on this machine shows up in /proc/net/tcp{,6}', async (t) => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, r));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const text = ['/proc/net/tcp', '/proc/net/tcp6'].map((f) => { try { return readFileSync(f, 'utf8'); } catch { return ''; } }).join('');
  assert.ok(parseListeningPorts(text).includes(port), `port ${port} is listening`);
});
