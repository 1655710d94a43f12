// HPACK's static Huffman code (RFC 7541 Appendix B) and a table-driven decoder
// for it. The code is canonical, so only the 257 code lengths are written down;
// the codes and a 4-bits-at-a-time decoding state machine are derived at load.
// The mesh's encoder never Huffman-encodes (CPU matters more than bytes), so
// only decoding lives here.

/** Code length in bits of each symbol 0..255, then EOS (256). */
const LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;

/** Symbol s is the low `HUFFMAN_LENGTHS[s]` bits of `HUFFMAN_CODES[s]`, most significant first. */
export const HUFFMAN_LENGTHS: readonly number[] = LENGTHS;
export const HUFFMAN_CODES: readonly number[] = canonicalCodes(LENGTHS);

/** Canonical codes: by (length, symbol), each code is the previous one plus 1, shifted left as lengths grow. */
function canonicalCodes(lengths: readonly number[]): number[] {
  const order = lengths.map((_, s) => s).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const codes = new Array<number>(lengths.length);
  let code = 0;
  let len = lengths[order[0]!]!;
  for (const s of order) {
    code *= 2 ** (lengths[s]! - len);
    len = lengths[s]!;
    codes[s] = code;
    code += 1;
  }
  return codes;
}

// Decoder: the states are the code tree's 256 internal nodes (0 = root). An
// entry of TRANSITIONS, indexed by state * 16 + nibble, packs the next state,
// the symbol completed within those 4 bits if any (codes are at least 5 bits
// long, so at most one), and whether the bits consumed since the last symbol
// form valid padding (§5.2: at most 7 bits, all ones, the prefix of EOS).
const NEXT_MASK = 0xff;
const SYMBOL_SHIFT = 8;
const EMITS = 1 << 16;
const ACCEPTS = 1 << 17;
const FAILS = 1 << 18;

const TRANSITIONS = buildTransitions();

function buildTransitions(): Int32Array {
  // Tree nodes: children[node * 2 + bit] >= 0 is an internal node, -1 - symbol a leaf, undefined absent.
  const children: number[] = [];
  let nodes = 1;
  for (let s = 0; s <= EOS; s++) {
    let node = 0;
    for (let i = LENGTHS[s]! - 1; i >= 0; i--) {
      const bit = (HUFFMAN_CODES[s]! >>> i) & 1;
      if (i === 0) children[node * 2 + bit] = -1 - s;
      else node = children[node * 2 + bit] ??= nodes++;
    }
  }
  // Depth of each node and whether its path from the root is all ones.
  const depth = [0];
  const allOnes = [true];
  for (let node = 0; node < nodes; node++) {
    for (let bit = 0; bit < 2; bit++) {
      const child = children[node * 2 + bit]!;
      if (child < 0) continue;
      depth[child] = depth[node]! + 1;
      allOnes[child] = allOnes[node]! && bit === 1;
    }
  }
  const table = new Int32Array(nodes * 16);
  for (let state = 0; state < nodes; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const child = children[node * 2 + ((nibble >> i) & 1)]!;
        if (child >= 0) node = child;
        else {
          entry |= child === -1 - EOS ? FAILS : EMITS | ((-1 - child) << SYMBOL_SHIFT);
          node = 0;
        }
      }
      const accepts = node === 0 || (allOnes[node]! && depth[node]! <= 7);
      table[state * 16 + nibble] = entry | node | (accepts ? ACCEPTS : 0);
    }
  }
  return table;
}

/**
 * Decodes src[start, end) into `out` from 0 and returns the byte count, or -1 when the string
 * holds EOS or ends with invalid padding. `out` needs room for (end - start) * 8 / 5 bytes.
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  const t = TRANSITIONS;
  let state = 0;
  let entry = ACCEPTS;
  let n = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    const high = t[(state << 4) | (byte >> 4)]!;
    entry = t[((high & NEXT_MASK) << 4) | (byte & 15)]!;
    if (((high | entry) & FAILS) !== 0) return -1;
    if ((high & EMITS) !== 0) out[n++] = (high >> SYMBOL_SHIFT) & 0xff;
    if ((entry & EMITS) !== 0) out[n++] = (entry >> SYMBOL_SHIFT) & 0xff;
    state = entry & NEXT_MASK;
  }
  return (entry & ACCEPTS) !== 0 ? n : -1;
}
