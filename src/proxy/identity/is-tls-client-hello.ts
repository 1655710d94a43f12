// Permissive mode's test on the mTLS port: does a connection start with a TLS
// handshake record (then hand it to the mTLS server) or with plaintext (then
// count it and, in permissive mode only, serve it)?
/** true: TLS; false: not TLS; undefined: fewer than 3 bytes, read more. */
export function isTlsClientHello(first: Buffer): boolean | undefined {
  if (first.length === 0) return undefined;
  if (first[0] !== 0x16) return false; // handshake record type
  if (first.length < 3) return undefined;
  return first[1] === 0x03 && first[2]! <= 0x04; // record versions SSL 3.0 .. TLS 1.3
}
