// Read buffers shared by up to 64 forwarders, as HAProxy takes a buffer from
// its pool only while data sits in it: the kernel copies every read into a
// buffer that is hot in the cache, instead of into one of 2 per connection
// (with 64 keep-alive connections: about 5 % less CPU per request, mostly
// kernel time, in paired runs; and no 32 KiB per idle connection). Sharing
// is safe while every write of a read completes at once, as the buffer is
// free again when the read callback returns. A write that stays pending keeps
// pointing into the buffer, so the forwarder whose write it is takes the
// buffer as its own, and the group's other members move to a new buffer
// before anything else can read (one native call per member, once per
// forwarder that ever waits on a write).
const GROUP_MEMBERS = 64;

/** A forwarder reading into a shared buffer: `moveTo` makes its source read into `buf` from now on. */
export interface SharedBufferReader {
  moveTo(buf: Buffer): void;
}

export class SharedReadBuffer {
  buffer: Buffer;
  private readonly members = new Set<SharedBufferReader>();
  private readonly size: number;

  private constructor(size: number) {
    this.size = size;
    this.buffer = Buffer.allocUnsafe(size);
  }

  private static open: SharedReadBuffer | undefined;

  /** The group `reader` now belongs to; read into its `buffer`. */
  static join(reader: SharedBufferReader, size: number): SharedReadBuffer {
    let g = SharedReadBuffer.open;
    if (g === undefined || g.size !== size || g.members.size >= GROUP_MEMBERS) g = SharedReadBuffer.open = new SharedReadBuffer(size);
    g.members.add(reader);
    return g;
  }

  leave(reader: SharedBufferReader): void {
    this.members.delete(reader);
  }

  /** `reader` keeps the current buffer as its own (a write from it is pending) and leaves; the others move to a new one. */
  giveTo(reader: SharedBufferReader): void {
    this.members.delete(reader);
    this.buffer = Buffer.allocUnsafe(this.size);
    for (const m of this.members) m.moveTo(this.buffer);
  }

  get memberCount(): number {
    return this.members.size;
  }
}
