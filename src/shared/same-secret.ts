// One constant-time comparison for every token the mesh checks (API bearer,
// service tokens, a sidecar's /tap), so none of them leaks its length-prefix by timing.
import { timingSafeEqual } from 'node:crypto';

/** True when `got` is exactly `want`; the time taken does not depend on where they differ. */
export function sameSecret(got: string | undefined, want: string): boolean {
  const a = Buffer.from(got ?? '');
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}
