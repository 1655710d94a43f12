// A gRPC client side for tests, over a raw node:http2 stream: length-prefixed
// message frames, and a bidi "chat" that sends each message only after the
// reply to the one before arrived (nothing may be held back on the way).
import type http2 from 'node:http2';

/** One uncompressed gRPC message frame. */
export function grpcFrame(s: string): Buffer {
  const b = Buffer.from(s);
  const h = Buffer.alloc(5);
  h.writeUInt32BE(b.length, 1);
  return Buffer.concat([h, b]);
}

/** Sends each message, waits for its reply, then ends the stream; the replies' payloads, in order. */
export async function grpcChat(stream: http2.ClientHttp2Stream, messages: string[]): Promise<string[]> {
  const received: string[] = [];
  let waiter: (() => void) | undefined;
  stream.on('data', (c: Buffer) => {
    received.push(c.subarray(5).toString());
    waiter?.();
  });
  for (const msg of messages) {
    const got = new Promise<void>((r) => (waiter = r));
    stream.write(grpcFrame(msg));
    await got;
  }
  stream.end();
  return received;
}
