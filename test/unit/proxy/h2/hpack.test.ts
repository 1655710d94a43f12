// HPACK codec: every example of RFC 7541 Appendix C, the Huffman code against
// Appendix B, the encoder's indexing policy, random round trips, each kind of
// malformed block refused, and both directions against node:http2 (nghttp2) on
// real sockets: its Huffman-coded, indexed blocks decoded, ours accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { HpackDecoder, HpackEncoder, HpackError } from '../../../../src/proxy/h2/hpack.ts';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from '../../../../src/proxy/h2/hpack-huffman.ts';
import { H2_PREFACE, h2Frame } from '../../../harness/h2-frame.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** The decoder's dynamic table, newest first, read back through indexed fields (which leave it unchanged). */
function dynamicTable(dec: HpackDecoder): { entries: string[]; size: number } {
  const entries: string[] = [];
  let size = 0;
  for (let index = 62; index < 127; index++) {
    let field: string[];
    try {
      field = dec.decode(Buffer.from([0x80 | index]));
    } catch (err) {
      assert.ok(err instanceof HpackError);
      break;
    }
    entries.push(`${field[0]}: ${field[1]}`);
    size += field[0]!.length + field[1]!.length + 32;
  }
  return { entries, size };
}

/** Huffman-codes a latin1 string with the code under test (bits as text, padded with ones). */
function huffman(s: string): Buffer {
  let bits = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    bits += HUFFMAN_CODES[c]!.toString(2).padStart(HUFFMAN_LENGTHS[c]!, '0');
  }
  bits += '1'.repeat((8 - (bits.length % 8)) % 8);
  return Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
}

/** An integer with an N-bit prefix (§5.1) after `flags`; `mask` is 2^N - 1. */
function int(flags: number, mask: number, value: number): number[] {
  if (value < mask) return [flags | value];
  const out = [flags | mask];
  for (value -= mask; value >= 0x80; value >>>= 7) out.push((value & 0x7f) | 0x80);
  return [...out, value];
}

/** A literal without indexing: new name "x", then the value's string bytes, Huffman-coded or not. */
function literalX(valueBytes: Buffer, huffmanCoded: boolean): Buffer {
  return Buffer.concat([Buffer.from([0x00, 0x01, 0x78, ...int(huffmanCoded ? 0x80 : 0, 0x7f, valueBytes.length)]), valueBytes]);
}

test('Huffman code: canonical codes derived from the lengths reproduce Appendix B, and the code is complete', () => {
  const code = (c: string | number): [number, number] => {
    const s = typeof c === 'number' ? c : c.charCodeAt(0);
    return [HUFFMAN_CODES[s]!, HUFFMAN_LENGTHS[s]!];
  };
  assert.deepEqual(code('0'), [0x0, 5]);
  assert.deepEqual(code('a'), [0x3, 5]);
  assert.deepEqual(code(' '), [0x14, 6]);
  assert.deepEqual(code(0), [0x1ff8, 13]);
  assert.deepEqual(code('\\'), [0x7fff0, 19]);
  assert.deepEqual(code(255), [0x3ffffee, 26]);
  assert.deepEqual(code(256), [0x3fffffff, 30]);
  assert.equal(HUFFMAN_CODES.length, 257);
  // Kraft sum exactly 1: no gap a decoder could fall into.
  assert.equal(HUFFMAN_LENGTHS.reduce((sum, l) => sum + 2 ** (30 - l), 0), 2 ** 30);
});

test('Huffman decoding: every byte value, every string length up to 40, random strings', () => {
  const dec = new HpackDecoder();
  const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');
  assert.deepEqual(dec.decode(literalX(huffman(all), true)), ['x', all]);
  assert.deepEqual(dec.decode(literalX(huffman(all.repeat(20)), true)), ['x', all.repeat(20)]);
  let seed = 7;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let n = 0; n <= 40; n++) {
    for (const alphabet of [all, 'abcdefghijklmnopqrstuvwxyz0123456789-./ ']) {
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet[next() % alphabet.length];
      assert.deepEqual(dec.decode(literalX(huffman(s), true)), ['x', s], JSON.stringify(s));
    }
  }
});

test('RFC 7541 C.2: one literal with indexing, without, never indexed, and an indexed field', () => {
  const d1 = new HpackDecoder();
  assert.deepEqual(d1.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')), ['custom-key', 'custom-header']);
  assert.deepEqual(dynamicTable(d1), { entries: ['custom-key: custom-header'], size: 55 });

  const d2 = new HpackDecoder();
  assert.deepEqual(d2.decode(hex('040c 2f73 616d 706c 652f 7061 7468')), [':path', '/sample/path']);
  assert.deepEqual(dynamicTable(d2), { entries: [], size: 0 });

  const d3 = new HpackDecoder();
  assert.deepEqual(d3.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')), ['password', 'secret']);
  assert.deepEqual(dynamicTable(d3), { entries: [], size: 0 });

  const d4 = new HpackDecoder();
  assert.deepEqual(d4.decode(hex('82')), [':method', 'GET']);
  assert.deepEqual(dynamicTable(d4), { entries: [], size: 0 });
  // Appendix A's first and last entries.
  assert.deepEqual(d4.decode(hex('81 bd')), [':authority', '', 'www-authenticate', '']);
});

const REQUESTS = [
  [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com'],
  [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com', 'cache-control', 'no-cache'],
  [':method', 'GET', ':scheme', 'https', ':path', '/index.html', ':authority', 'www.example.com', 'custom-key', 'custom-value'],
];
const REQUEST_TABLES = [
  { entries: [':authority: www.example.com'], size: 57 },
  { entries: ['cache-control: no-cache', ':authority: www.example.com'], size: 110 },
  { entries: ['custom-key: custom-value', 'cache-control: no-cache', ':authority: www.example.com'], size: 164 },
];

for (const [section, blocks] of [
  ['C.3 (requests without Huffman)', ['8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', '8286 84be 5808 6e6f 2d63 6163 6865', '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65']],
  ['C.4 (requests with Huffman)', ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf']],
] as const) {
  test(`RFC 7541 ${section}: three requests on one connection, the table after each`, () => {
    const dec = new HpackDecoder();
    blocks.forEach((block, i) => {
      assert.deepEqual(dec.decode(hex(block)), REQUESTS[i]);
      assert.deepEqual(dynamicTable(dec), REQUEST_TABLES[i]);
    });
  });
}

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOCATION = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RESPONSES = [
  [':status', '302', 'cache-control', 'private', 'date', DATE1, 'location', LOCATION],
  [':status', '307', 'cache-control', 'private', 'date', DATE1, 'location', LOCATION],
  [':status', '200', 'cache-control', 'private', 'date', DATE2, 'location', LOCATION, 'content-encoding', 'gzip', 'set-cookie', COOKIE],
];
const RESPONSE_TABLES = [
  { entries: [`location: ${LOCATION}`, `date: ${DATE1}`, 'cache-control: private', ':status: 302'], size: 222 },
  { entries: [':status: 307', `location: ${LOCATION}`, `date: ${DATE1}`, 'cache-control: private'], size: 222 },
  { entries: [`set-cookie: ${COOKIE}`, 'content-encoding: gzip', `date: ${DATE2}`], size: 215 },
];

for (const [section, blocks] of [
  [
    'C.5 (responses without Huffman)',
    [
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
    ],
  ],
  [
    'C.6 (responses with Huffman)',
    [
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      '4883 640e ffc1 c0bf',
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ],
  ],
] as const) {
  test(`RFC 7541 ${section}: a 256-byte table, evictions, the table after each`, () => {
    const dec = new HpackDecoder(256);
    blocks.forEach((block, i) => {
      assert.deepEqual(dec.decode(hex(block)), RESPONSES[i]);
      assert.deepEqual(dynamicTable(dec), RESPONSE_TABLES[i]);
    });
  });
}

test('decode accepts a plain Uint8Array and a block of only size updates, and evicts on a smaller size', () => {
  const dec = new HpackDecoder();
  dec.decode(new Uint8Array(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')));
  assert.equal(dynamicTable(dec).size, 55);
  assert.deepEqual(dec.decode(hex('3f18 82')), [':method', 'GET']); // size 55: still fits
  assert.equal(dynamicTable(dec).size, 55);
  assert.deepEqual(dec.decode(hex('3f17 3fe1 1f')), []); // 54 evicts it, then back to 4096
  assert.equal(dynamicTable(dec).size, 0);
});

test('an entry larger than the whole table empties it and is not added (§4.4)', () => {
  const dec = new HpackDecoder(64);
  const big = 'c'.repeat(40);
  assert.deepEqual(dec.decode(Buffer.concat([hex('4001 6101 62'), hex('4001 6328'), Buffer.from(big)])), ['a', 'b', 'c', big]);
  assert.deepEqual(dynamicTable(dec), { entries: [], size: 0 });
});

test('encoder: static matches indexed, repeated fields become one-byte dynamic references', () => {
  const enc = new HpackEncoder();
  const list = [':method', 'GET', ':scheme', 'http', ':authority', 'svc:8080', ':path', '/api', 'user-agent', 'curl/8', 'accept', '*/*', 'x-team', 'blue'];
  const first = enc.encode(list);
  assert.deepEqual(first.subarray(0, 2), hex('8286'));
  const second = enc.encode(list);
  assert.equal(second.length, 7, 'every field one byte');
  // Newest entry first: x-team is 62 (0xbe), :authority, inserted first, 66.
  assert.deepEqual(second, hex('8286 c2c1 c0bf be'));
  const dec = new HpackDecoder();
  assert.deepEqual(dec.decode(first), list);
  assert.deepEqual(dec.decode(second), list);
  assert.deepEqual(first.subarray(0, 2), hex('8286'), 'an earlier result is not overwritten');
  const newValue = enc.encode(['x-team', 'red']);
  assert.deepEqual(newValue, hex('7e03 726564'), 'a new value names its field by dynamic index (62)');
  assert.deepEqual(dec.decode(newValue), ['x-team', 'red']);
});

test('encoder policy: per-request names and long values stay literal, credentials never indexed, names lowercased', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  const longPath = '/' + 'p'.repeat(64);
  const longValue = 'v'.repeat(257);
  const list = [
    'traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    'date', 'Sat, 22 Nov 2025 17:57:00 GMT',
    ':path', longPath,
    'x-big', longValue,
    'authorization', 'Bearer abc.def.ghi-long-enough-token',
    'cookie', 'a=b',
    'cookie', 'session=0123456789abcdef0123',
    'set-cookie', 'id=1',
    'X-Mixed-Case', 'Kept',
  ];
  const block = enc.encode(list);
  const decoded = dec.decode(block);
  assert.deepEqual(decoded, list.map((s, i) => (i % 2 === 0 ? s.toLowerCase() : s)));
  // Only the long cookie and x-mixed-case were indexed.
  assert.deepEqual(dynamicTable(dec).entries, ['x-mixed-case: Kept', 'cookie: session=0123456789abcdef0123']);
  assert.equal(block[0], 0x00, 'traceparent: literal without indexing, new name');
  const again = enc.encode(list);
  assert.deepEqual(dec.decode(again), decoded);
  assert.deepEqual(dynamicTable(dec).entries, ['x-mixed-case: Kept', 'cookie: session=0123456789abcdef0123']);
  // authorization (static index 23) as "never indexed": 0001 1111, then 23 - 15.
  assert.ok(again.includes(hex('1f08')));
});

test('encoder: setMaxTableSize starts the next block with size updates (the smallest, then the last) and evicts', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  const list = ['x-a', 'one', 'x-b', 'two'];
  dec.decode(enc.encode(list));
  assert.equal(dynamicTable(dec).entries.length, 2);
  enc.setMaxTableSize(0);
  enc.setMaxTableSize(50);
  const block = enc.encode(list);
  assert.deepEqual(block.subarray(0, 3), hex('20 3f13'), 'update to 0, then to 50');
  assert.deepEqual(dec.decode(block), list);
  assert.deepEqual(dynamicTable(dec).entries, ['x-b: two'], 'room for one 38-byte entry at a time');
  enc.setMaxTableSize(65536);
  const grown = enc.encode([]);
  assert.deepEqual(grown, hex('3fe1 1f'), 'the encoder uses at most 4096 bytes whatever the peer allows');
  assert.deepEqual(dec.decode(grown), []);
  const reused = enc.encode(['x-b', 'two']);
  assert.deepEqual(reused, hex('be'));
  assert.deepEqual(dec.decode(reused), ['x-b', 'two']);
});

test('round trip: random lists, repeated fields, long values, table size changes', () => {
  let seed = 42;
  const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const names = [':method', ':path', ':status', ':authority', 'content-type', 'accept', 'user-agent', 'cookie', 'set-cookie', 'authorization', 'traceparent', 'date', 'X-Custom', 'x-custom', 'x-a', 'x-b', 'Accept-Encoding'];
  const values = ['GET', '200', '/', '', 'text/plain', 'application/json', '*/*', 'gzip, deflate', 'a=b'];
  const randomString = (length: number): string => {
    let s = '';
    for (let i = 0; i < length; i++) s += String.fromCharCode(rand(3) === 0 ? rand(256) : 97 + rand(26));
    return s;
  };
  const randomName = (): string => (rand(4) === 0 ? 'x-' + randomString(1 + rand(10)).replace(/[^a-z]/g, 'q') : names[rand(names.length)]!);
  const randomValue = (): string => {
    const r = rand(10);
    if (r < 5) return values[rand(values.length)]!;
    if (r < 9) return randomString(rand(40));
    return randomString(200 + rand(2000));
  };
  for (let connection = 0; connection < 20; connection++) {
    const enc = new HpackEncoder();
    const dec = new HpackDecoder(8192);
    const pool: string[] = [];
    for (let i = 0; i < 40; i++) pool.push(randomName(), randomValue());
    for (let block = 0; block < 60; block++) {
      if (rand(10) === 0) enc.setMaxTableSize([0, 64, 100, 256, 1000, 4096, 8192][rand(7)]!);
      const list: string[] = [];
      const fields = rand(25);
      for (let f = 0; f < fields; f++) {
        const k = rand(3) === 0 ? -1 : rand(pool.length / 2) * 2;
        if (k < 0) list.push(randomName(), randomValue());
        else list.push(pool[k]!, pool[k + 1]!);
      }
      const got = dec.decode(enc.encode(list));
      assert.deepEqual(got, list.map((s, i) => (i % 2 === 0 ? s.toLowerCase() : s)), `connection ${connection} block ${block}`);
    }
  }
});

test('malformed blocks throw HpackError', () => {
  const cases: [string, Buffer, number?][] = [
    ['index 0', hex('80')],
    ['index beyond the dynamic table', hex('be')],
    ['name index beyond the dynamic table', hex('7e 0161')],
    ['truncated integer', hex('ff')],
    ['truncated integer after a continuation byte', hex('ff 80')],
    ['integer overflow', hex('ff ff ff ff ff 0f')],
    ['integer with too many continuation bytes', hex('3f 80 80 80 80 80 80 00')],
    ['missing string', hex('40')],
    ['missing value string', hex('04')],
    ['truncated string', hex('40 05 61')],
    ['truncated Huffman string', hex('04 85 ff')],
    ['Huffman padding longer than 7 bits', literalX(hex('07 ff'), true)],
    ['Huffman padding of a whole byte', literalX(Buffer.concat([huffman('00000000'), hex('ff')]), true)],
    ['Huffman padding that is not all ones', literalX(hex('06'), true)],
    ['Huffman EOS inside the string', literalX(hex('ff ff ff ff'), true)],
    ['size update above the maximum', hex('3f e2 1f')],
    ['size update after a field', hex('82 20')],
    ['size update above a smaller maximum', hex('3f e2 01'), 256],
  ];
  for (const [what, block, max] of cases) {
    assert.throws(() => new HpackDecoder(max).decode(block), HpackError, what);
  }
  // The valid neighbours of some of those cases decode.
  assert.deepEqual(new HpackDecoder().decode(literalX(hex('07'), true)), ['x', '0']);
  assert.deepEqual(new HpackDecoder().decode(hex('3f e1 1f 82')), [':method', 'GET']);
});

test('a header list over maxHeaderListSize throws only after the whole block updated the table', () => {
  const dec = new HpackDecoder();
  const block = new HpackEncoder().encode(['x-a', 'one', 'x-b', 'two']);
  // (3 + 3 + 32) * 2 = 76 bytes.
  assert.throws(() => dec.decode(block, 75), HpackError);
  assert.deepEqual(dynamicTable(dec).entries, ['x-b: two', 'x-a: one']);
  assert.deepEqual(dec.decode(hex('bf be'), 76), ['x-a', 'one', 'x-b', 'two']);
});

// Raw frames for the node:http2 exchanges (RFC 9113 §4.1, §6.2).
const HEADERS = 0x1;
const SETTINGS = 0x4;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const ACK = 0x1;

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** Splits a byte stream into frames, after skipping `skip` leading bytes (a client preface). */
function frameReader(skip: number, onFrame: (f: Frame) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    if (skip > 0) {
      const n = Math.min(skip, pending.length);
      pending = pending.subarray(n);
      skip -= n;
    }
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      onFrame({ type: pending[3]!, flags: pending[4]!, stream: pending.readUInt32BE(5) & 0x7fffffff, payload: pending.subarray(9, 9 + length) });
      pending = pending.subarray(9 + length);
    }
  };
}

/** Reassembles header blocks: a HEADERS payload without padding and priority, then CONTINUATIONs. */
function headerBlocks(onBlock: (block: Buffer) => void): (f: Frame) => void {
  let parts: Buffer[] = [];
  return (f) => {
    if (f.type !== HEADERS && f.type !== CONTINUATION) return;
    let p = f.payload;
    if (f.type === HEADERS) {
      if (f.flags & PADDED) p = p.subarray(1, p.length - p[0]!);
      if (f.flags & PRIORITY) p = p.subarray(5);
    }
    parts.push(p);
    if (f.flags & END_HEADERS) {
      onBlock(Buffer.concat(parts));
      parts = [];
    }
  };
}

const listen = async (server: net.Server): Promise<number> => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
};

const sortedPairs = (list: readonly string[]): string[] => {
  const pairs: string[] = [];
  for (let i = 0; i < list.length; i += 2) pairs.push(`${list[i]}: ${list[i + 1]}`);
  return pairs.sort();
};

test('decodes the blocks a node:http2 client sends (nghttp2: Huffman, dynamic table, never-indexed)', { timeout: 10_000 }, async (t) => {
  const blocks: Buffer[] = [];
  let threeBlocks!: () => void;
  const received = new Promise<void>((resolve) => (threeBlocks = resolve));
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.write(h2Frame(SETTINGS, 0, 0));
    const onHeaders = headerBlocks((block) => {
      blocks.push(block);
      if (blocks.length === 3) threeBlocks();
    });
    socket.on(
      'data',
      frameReader(H2_PREFACE.length, (f) => {
        if (f.type === SETTINGS && !(f.flags & ACK)) socket.write(h2Frame(SETTINGS, ACK, 0));
        onHeaders(f);
      }),
    );
  });
  const port = await listen(server);
  t.after(() => server.close());
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  t.after(() => client.destroy());

  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
  const requests = [1, 2, 3].map((n) => ({
    ':method': 'GET',
    ':path': `/items/${n}?q=${'abc'.repeat(n)}`,
    'user-agent': 'meshctl-test/1.0 (linux; x64)',
    accept: 'application/json',
    'x-printable': printable,
    'x-latin1': 'caf\u00e9 \u00ff\u0080',
    'x-long': 'the quick brown fox jumps over the lazy dog '.repeat(4),
    'x-request-id': `req-${n}-${'0123456789abcdef'.repeat(2)}`,
    cookie: `s=${n}`,
  }));
  for (const headers of requests) {
    const req = client.request(headers, { endStream: true });
    req.on('error', () => {});
  }
  await received;

  const dec = new HpackDecoder();
  const rawLength = Object.entries(requests[0]!).reduce((sum, [k, v]) => sum + k.length + v.length, 0);
  assert.ok(blocks[0]!.length < rawLength, `first block ${blocks[0]!.length} bytes < ${rawLength}: Huffman-coded`);
  assert.ok(blocks[2]!.length < blocks[0]!.length / 2, 'later blocks reference the dynamic table');
  blocks.forEach((block, i) => {
    const expected = { ...requests[i]!, ':scheme': 'http', ':authority': `127.0.0.1:${port}` };
    assert.deepEqual(sortedPairs(dec.decode(block)), sortedPairs(Object.entries(expected).flat()));
  });
});

test('a node:http2 server accepts our blocks: dynamic references, size update to its 256-byte table, responses decoded', { timeout: 10_000 }, async (t) => {
  const server = http2.createServer({ settings: { headerTableSize: 256 } });
  const seen: string[][] = [];
  let allSeen!: () => void;
  const threeStreams = new Promise<void>((resolve) => (allSeen = resolve));
  server.on('stream', (stream, _headers, _flags, rawHeaders) => {
    seen.push(rawHeaders);
    // The session event map types a server's streams as plain Http2Streams.
    (stream as http2.ServerHttp2Stream).respond({ ':status': 200, 'x-echo': String(seen.length) }, { endStream: true });
    if (seen.length === 3) allSeen();
  });
  const port = await listen(server);
  t.after(() => server.close());
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  t.after(() => socket.destroy());

  const enc = new HpackEncoder();
  const responseDecoder = new HpackDecoder();
  const responses: string[][] = [];
  let allResponses!: () => void;
  const threeResponses = new Promise<void>((resolve) => (allResponses = resolve));
  const requests = [1, 2, 3].map((n) => [
    ':method', 'GET', ':scheme', 'http', ':authority', 'svc:8080', ':path', `/r/${n % 2}`,
    'User-Agent', 'meshctl-test/1.0', 'x-team', `team-${n}`, 'x-latin1', 'caf\u00e9',
    'traceparent', `00-${String(n).repeat(32)}-${'ab'.repeat(8)}-01`,
  ]);
  // 237 indexable bytes a request for a 256-byte table: references to entries, to names only, and evictions.
  const blocks: Buffer[] = [];
  const onHeaders = headerBlocks((block) => {
    responses.push(responseDecoder.decode(block));
    if (responses.length === 3) allResponses();
  });
  let sent = false;
  socket.on(
    'data',
    frameReader(0, (f) => {
      if (f.type === SETTINGS && !(f.flags & ACK)) {
        for (let at = 0; at + 6 <= f.payload.length; at += 6) {
          if (f.payload.readUInt16BE(at) === 1) enc.setMaxTableSize(f.payload.readUInt32BE(at + 2));
        }
        socket.write(h2Frame(SETTINGS, ACK, 0));
        if (!sent) {
          sent = true;
          for (const [i, list] of requests.entries()) {
            blocks.push(enc.encode(list));
            socket.write(h2Frame(HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i, blocks[i]));
          }
        }
      }
      onHeaders(f);
    }),
  );
  socket.write(Buffer.concat([H2_PREFACE, h2Frame(SETTINGS, 0, 0)]));
  await threeStreams;

  assert.deepEqual(blocks[0]!.subarray(0, 3), hex('3fe1 01'), 'size update to 256 first');
  assert.ok(blocks[1]!.length < blocks[0]!.length - 40, 'the second block references the first one\'s entries');
  assert.deepEqual(
    seen,
    requests.map((list) => list.map((s, i) => (i % 2 === 0 ? s.toLowerCase() : s))),
  );
  await threeResponses;
  for (const [i, response] of responses.entries()) {
    assert.deepEqual(response.slice(0, 4), [':status', '200', 'x-echo', String(i + 1)]);
    assert.ok(response.includes('date'));
  }
});
