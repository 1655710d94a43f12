// Raw HTTP/2 frames for tests that must speak to the proxy below node:http2
// (GOAWAY handling, rapid reset, SETTINGS floods): the 9-byte frame header
// (RFC 9113 §4.1) and the client connection preface.

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** One frame: 24-bit length, type, flags, 31-bit stream id, then the payload. */
export function h2Frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}
