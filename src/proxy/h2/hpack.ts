// HPACK (RFC 7541): the header compression of the mesh's HTTP/2 engine. One
// HpackDecoder and one HpackEncoder per connection, each owning its side's
// dynamic table. Built for the per-request path: header lists are flat
// [name, value, ...] arrays of latin1 strings, the encoder finds table entries
// through maps in O(1) and never Huffman-encodes (loopback: CPU over bytes).
import { huffmanDecode } from './hpack-huffman.ts';

/** A malformed header block: the HTTP/2 connection must fail with COMPRESSION_ERROR. */
export class HpackError extends Error {}

// RFC 7541 Appendix A, index 1..61.
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];
const STATIC_COUNT = STATIC_TABLE.length;
const STATIC_NAMES = ['', ...STATIC_TABLE.map((e) => e[0])];
const STATIC_VALUES = ['', ...STATIC_TABLE.map((e) => e[1])];

const DEFAULT_TABLE_SIZE = 4096;
/** Per-entry overhead of the table size accounting (§4.1). */
const ENTRY_OVERHEAD = 32;
/** Larger integers are refused: no legitimate index, length or table size comes near. */
const MAX_INTEGER = 2 ** 31 - 1;

// Buffer's unchecked latin1 accessors (what toString/write('latin1') call after argument checks); not in @types/node.
interface Latin1Buffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  latin1Write(s: string, offset: number, length: number): number;
}

/** Ring of dynamic table entries, newest last; entries are numbered by insertion (`first` .. `next` - 1). */
class EntryRing<K> {
  keys: (K | undefined)[] = new Array<K | undefined>(16);
  values: string[] = new Array<string>(16).fill('');
  mask = 15;
  first = 0;
  next = 0;

  push(key: K, value: string): void {
    if (this.next - this.first > this.mask) this.grow();
    const slot = this.next & this.mask;
    this.keys[slot] = key;
    this.values[slot] = value;
    this.next++;
  }

  /** Drops the oldest entry (the caller has read it). */
  shift(): void {
    const slot = this.first & this.mask;
    this.keys[slot] = undefined;
    this.values[slot] = '';
    this.first++;
  }

  private grow(): void {
    const mask = this.mask * 2 + 1;
    const keys = new Array<K | undefined>(mask + 1);
    const values = new Array<string>(mask + 1).fill('');
    for (let id = this.first; id < this.next; id++) {
      keys[id & mask] = this.keys[id & this.mask];
      values[id & mask] = this.values[id & this.mask]!;
    }
    this.keys = keys;
    this.values = values;
    this.mask = mask;
  }
}

// Shared scratch space: encode and decode are synchronous and hand out copies, so one of each serves all connections.
let huffmanScratch = Buffer.allocUnsafe(4096);
let encodeScratch = Buffer.allocUnsafe(16 * 1024) as Latin1Buffer;
const EMPTY = Buffer.alloc(0) as Latin1Buffer;

export class HpackDecoder {
  private readonly maxTableSize: number;
  /** The table's current maximum size, as the peer's encoder last signalled (≤ maxTableSize). */
  private limit: number;
  private size = 0;
  private readonly table = new EntryRing<string>();
  private src = EMPTY;
  private pos = 0;

  constructor(maxTableSize = DEFAULT_TABLE_SIZE) {
    this.maxTableSize = maxTableSize;
    this.limit = maxTableSize;
  }

  /**
   * Decodes one complete header block (all HEADERS+CONTINUATION payload fragments concatenated)
   * into a flat [name, value, name, value, ...] list, in order. Strings are decoded as latin1
   * (one char per byte). Throws HpackError on any malformed input (bad index, truncated integer or
   * string, invalid Huffman padding / EOS, a dynamic table size update above maxTableSize or not at
   * the start of the block, integer overflow). When the decoded list's size in the RFC 7540 sense
   * (sum of name.length + value.length + 32) exceeds maxHeaderListSize, throw HpackError too
   * (the caller treats it as fatal) — but only after fully decoding so the table state stays right.
   */
  decode(block: Uint8Array, maxHeaderListSize = Infinity): string[] {
    const src = (Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength)) as Latin1Buffer;
    this.src = src;
    this.pos = 0;
    const out: string[] = [];
    let listSize = 0;
    try {
      while (this.pos < src.length) {
        const b = src[this.pos]!;
        let name: string;
        let value: string;
        if (b >= 0x80) {
          const index = this.readInt(0x7f);
          name = this.nameAt(index);
          value = this.valueAt(index);
        } else if (b >= 0x40) {
          name = this.readName(0x3f);
          value = this.readString();
          this.insert(name, value);
        } else if (b >= 0x20) {
          if (out.length !== 0) throw new HpackError('dynamic table size update after a header field');
          this.resize(this.readInt(0x1f));
          continue;
        } else {
          // Literal without indexing (0000) or never indexed (0001): the same to a decoder that does not re-encode.
          name = this.readName(0x0f);
          value = this.readString();
        }
        out.push(name, value);
        listSize += name.length + value.length + ENTRY_OVERHEAD;
      }
    } finally {
      this.src = EMPTY;
    }
    if (listSize > maxHeaderListSize) throw new HpackError(`header list of ${listSize} bytes exceeds ${maxHeaderListSize}`);
    return out;
  }

  /** An integer with an N-bit prefix (§5.1); `mask` is 2^N - 1. */
  private readInt(mask: number): number {
    const src = this.src;
    let pos = this.pos;
    let value = src[pos++]! & mask;
    if (value === mask) {
      let scale = 1;
      for (;;) {
        if (pos >= src.length) throw new HpackError('truncated integer');
        const b = src[pos++]!;
        value += (b & 0x7f) * scale;
        if (value > MAX_INTEGER || scale > 2 ** 28) throw new HpackError('integer overflow');
        if (b < 0x80) break;
        scale *= 128;
      }
    }
    this.pos = pos;
    return value;
  }

  /** A string literal (§5.2), raw or Huffman-coded. */
  private readString(): string {
    const src = this.src;
    if (this.pos >= src.length) throw new HpackError('truncated string');
    const huffman = src[this.pos]! >= 0x80;
    const length = this.readInt(0x7f);
    const start = this.pos;
    const end = start + length;
    if (end > src.length) throw new HpackError('truncated string');
    this.pos = end;
    if (!huffman) return src.latin1Slice(start, end);
    // Codes are at least 5 bits long: n bytes hold at most n * 8 / 5 symbols.
    if (huffmanScratch.length < length * 2) huffmanScratch = Buffer.allocUnsafe(length * 2);
    const n = huffmanDecode(src, start, end, huffmanScratch);
    if (n < 0) throw new HpackError('invalid Huffman code (EOS or bad padding)');
    return (huffmanScratch as Latin1Buffer).latin1Slice(0, n);
  }

  /** A literal's name: an index into the tables (prefix bits), or a string after a zero index. */
  private readName(mask: number): string {
    const index = this.readInt(mask);
    return index === 0 ? this.readString() : this.nameAt(index);
  }

  private nameAt(index: number): string {
    if (index <= STATIC_COUNT) {
      if (index === 0) throw new HpackError('index 0');
      return STATIC_NAMES[index]!;
    }
    return this.table.keys[this.slotOf(index)]!;
  }

  private valueAt(index: number): string {
    return index <= STATIC_COUNT ? STATIC_VALUES[index]! : this.table.values[this.slotOf(index)]!;
  }

  private slotOf(index: number): number {
    const t = this.table;
    const fromNewest = index - STATIC_COUNT;
    if (fromNewest > t.next - t.first) throw new HpackError(`index ${index} beyond the dynamic table`);
    return (t.next - fromNewest) & t.mask;
  }

  private insert(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    // An entry larger than the table empties it and is not added (§4.4).
    this.evictTo(Math.max(0, this.limit - entrySize));
    if (entrySize <= this.limit) {
      this.table.push(name, value);
      this.size += entrySize;
    }
  }

  private resize(limit: number): void {
    if (limit > this.maxTableSize) throw new HpackError(`table size update to ${limit} above the ${this.maxTableSize} allowed`);
    this.limit = limit;
    this.evictTo(limit);
  }

  private evictTo(max: number): void {
    const t = this.table;
    while (this.size > max) {
      const slot = t.first & t.mask;
      this.size -= t.keys[slot]!.length + t.values[slot]!.length + ENTRY_OVERHEAD;
      t.shift();
    }
  }
}

// Encoder policy: a name's values are indexed (incremental indexing) when at most indexUpTo bytes
// long and never-indexed (§6.2.3, kept literal by intermediaries too) when shorter than neverIndexBelow.
const INDEX_UP_TO = 256;
/** Names whose values change on every request: indexing them would only churn the table. */
const UNIQUE_PER_REQUEST = ['traceparent', 'tracestate', 'x-request-id', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'b3', 'date'];
/** Credentials stay out of tables; short cookies too (guessable through table probing, as nghttp2 reasons). */
const NEVER_INDEXED = ['authorization', 'proxy-authorization', 'set-cookie'];
const COOKIE_NEVER_INDEXED_BELOW = 20;
const PATH_INDEX_UP_TO = 64;
/**
 * The encoder uses at most this much table, whatever the peer allows (less is always allowed): a
 * peer advertising a huge SETTINGS_HEADER_TABLE_SIZE must not cost a connection more memory.
 */
const ENCODER_TABLE_CAP = 4096;

interface NamePolicy {
  readonly staticIndex: number;
  readonly staticValues: ReadonlyMap<string, number> | undefined;
  readonly indexUpTo: number;
  readonly neverIndexBelow: number;
}

const POLICIES = buildPolicies();

function buildPolicies(): Map<string, NamePolicy> {
  const policies = new Map<string, NamePolicy>();
  const set = (name: string, patch: Partial<NamePolicy>): void => {
    const base = policies.get(name) ?? { staticIndex: 0, staticValues: undefined, indexUpTo: INDEX_UP_TO, neverIndexBelow: 0 };
    policies.set(name, { ...base, ...patch });
  };
  for (let i = STATIC_COUNT; i >= 1; i--) {
    const values = new Map(policies.get(STATIC_NAMES[i]!)?.staticValues);
    set(STATIC_NAMES[i]!, { staticIndex: i, staticValues: values.set(STATIC_VALUES[i]!, i) });
  }
  for (const name of UNIQUE_PER_REQUEST) set(name, { indexUpTo: -1 });
  for (const name of NEVER_INDEXED) set(name, { neverIndexBelow: Infinity });
  set('cookie', { neverIndexBelow: COOKIE_NEVER_INDEXED_BELOW });
  set(':path', { indexUpTo: PATH_INDEX_UP_TO });
  return policies;
}

/** One encoder's view of a name: its policy and its entries in that encoder's dynamic table. */
class NameState {
  readonly name: string;
  readonly staticIndex: number;
  readonly staticValues: ReadonlyMap<string, number> | undefined;
  readonly indexUpTo: number;
  readonly neverIndexBelow: number;
  /** Names with a policy stay in the encoder's map; others leave it with their last entry. */
  readonly permanent: boolean;
  /** Dynamic entries: value -> insertion number of the newest entry with that value. */
  readonly values = new Map<string, number>();
  newestId = 0;
  entries = 0;

  constructor(name: string, policy: NamePolicy | undefined) {
    this.name = name;
    this.staticIndex = policy?.staticIndex ?? 0;
    this.staticValues = policy?.staticValues;
    this.indexUpTo = policy?.indexUpTo ?? INDEX_UP_TO;
    this.neverIndexBelow = policy?.neverIndexBelow ?? 0;
    this.permanent = policy !== undefined;
  }
}

export class HpackEncoder {
  private readonly names = new Map<string, NameState>();
  private readonly table = new EntryRing<NameState>();
  private size = 0;
  private limit: number;
  /** Smallest table size set since the last block, -1 when none: the next block signals it (§4.2). */
  private pendingMin = -1;

  constructor(maxTableSize = DEFAULT_TABLE_SIZE) {
    // Using less than the peer's decoder has is safe without telling it: it only keeps entries we never reference.
    this.limit = Math.min(maxTableSize, ENCODER_TABLE_CAP);
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed: the next block starts with a size update (RFC 7541 §4.2/6.3), the table is evicted as needed. */
  setMaxTableSize(n: number): void {
    this.limit = Math.min(n, ENCODER_TABLE_CAP);
    this.pendingMin = this.pendingMin < 0 ? this.limit : Math.min(this.pendingMin, this.limit);
    this.evictTo(this.limit);
  }

  /**
   * Encodes a flat [name, value, ...] list into one header block. Names must be emitted lowercase
   * (lowercase them if they are not; they are usually already lowercase, keep that path cheap).
   * The caller puts pseudo-headers (":status", ":method", ...) first.
   */
  encode(headers: readonly string[]): Buffer {
    let buf = encodeScratch;
    let at = 0;
    if (this.pendingMin >= 0) {
      if (this.pendingMin < this.limit) at = writeInt(buf, at, 0x20, 0x1f, this.pendingMin);
      at = writeInt(buf, at, 0x20, 0x1f, this.limit);
      this.pendingMin = -1;
    }
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      // Worst case: 6 bytes per integer, 3 integers.
      const need = at + name.length + value.length + 18;
      if (need > buf.length) buf = growEncodeScratch(need, at);
      at = this.field(buf, at, name, value);
    }
    const out = Buffer.allocUnsafe(at);
    buf.copy(out, 0, 0, at);
    return out;
  }

  private field(buf: Latin1Buffer, at: number, name: string, value: string): number {
    let state = this.names.get(name);
    if (state === undefined) {
      if (hasUpperCase(name)) return this.field(buf, at, name.toLowerCase(), value);
      const policy = POLICIES.get(name);
      if (policy !== undefined) this.names.set(name, (state = new NameState(name, policy)));
    }
    let nameIndex = 0;
    if (state !== undefined) {
      const exact = state.staticValues?.get(value) ?? this.dynamicIndex(state.values.get(value));
      if (exact !== 0) return writeInt(buf, at, 0x80, 0x7f, exact);
      nameIndex = state.staticIndex !== 0 ? state.staticIndex : this.dynamicIndex(state.entries !== 0 ? state.newestId : undefined);
    }
    const length = value.length;
    if (length < (state?.neverIndexBelow ?? 0)) {
      at = writeName(buf, at, 0x10, 0x0f, nameIndex, name);
    } else if (length <= (state?.indexUpTo ?? INDEX_UP_TO) && name.length + length + ENTRY_OVERHEAD <= this.limit) {
      at = writeName(buf, at, 0x40, 0x3f, nameIndex, name);
      this.insert(state ?? new NameState(name, undefined), value);
    } else {
      at = writeName(buf, at, 0x00, 0x0f, nameIndex, name);
    }
    return writeString(buf, at, value);
  }

  /** The HPACK index of a dynamic entry by insertion number, 0 for none. */
  private dynamicIndex(id: number | undefined): number {
    return id === undefined ? 0 : STATIC_COUNT + this.table.next - id;
  }

  /** Adds an entry that fits the table (the caller checked), evicting the oldest as needed. */
  private insert(state: NameState, value: string): void {
    const entrySize = state.name.length + value.length + ENTRY_OVERHEAD;
    this.evictTo(this.limit - entrySize);
    const id = this.table.next;
    this.table.push(state, value);
    this.size += entrySize;
    state.values.set(value, id);
    state.newestId = id;
    // A name without a policy enters the map with its first entry (or re-enters, if eviction just removed it).
    if (++state.entries === 1 && !state.permanent) this.names.set(state.name, state);
  }

  private evictTo(max: number): void {
    const t = this.table;
    while (this.size > max) {
      const id = t.first;
      const state = t.keys[id & t.mask]!;
      const value = t.values[id & t.mask]!;
      t.shift();
      this.size -= state.name.length + value.length + ENTRY_OVERHEAD;
      if (state.values.get(value) === id) state.values.delete(value);
      if (--state.entries === 0 && !state.permanent) this.names.delete(state.name);
    }
  }
}

function hasUpperCase(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

function growEncodeScratch(need: number, used: number): Latin1Buffer {
  const grown = Buffer.allocUnsafe(Math.max(need, encodeScratch.length * 2)) as Latin1Buffer;
  encodeScratch.copy(grown, 0, 0, used);
  encodeScratch = grown;
  return grown;
}

/** An integer with an N-bit prefix (§5.1) after the representation's `flags`; `mask` is 2^N - 1. */
function writeInt(buf: Buffer, at: number, flags: number, mask: number, value: number): number {
  if (value < mask) {
    buf[at] = flags | value;
    return at + 1;
  }
  buf[at++] = flags | mask;
  value -= mask;
  while (value >= 0x80) {
    buf[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[at] = value;
  return at + 1;
}

/** A literal representation's first part: the name's index, or 0 and the name as a string. */
function writeName(buf: Latin1Buffer, at: number, flags: number, mask: number, index: number, name: string): number {
  at = writeInt(buf, at, flags, mask, index);
  return index === 0 ? writeString(buf, at, name) : at;
}

/** A string literal without Huffman coding (H = 0). */
function writeString(buf: Latin1Buffer, at: number, s: string): number {
  at = writeInt(buf, at, 0, 0x7f, s.length);
  return at + buf.latin1Write(s, at, s.length);
}
