// Certificate serial numbers: 128 random bits, positive as DER requires, so
// serials never collide across CA restarts or roots.
import { randomBytes } from 'node:crypto';

export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x10; // positive, and no leading zero byte to strip
  return b.toString('hex');
}
