// Double SHA-256 of one 80-byte block header, specialised for the header-validation hot path.
// Why by hand: measured on the 8,065 shared mainnet headers (test/bench/chain.ts), @noble/hashes
// sha256(sha256(x)) runs ~220k headers/s and node:crypto.hash ~370k/s (a native call per hash costs
// more than the hashing); this fixed-size, allocation-free version runs ~850k/s, which is what the
// 500k headers/s validation target needs. Every result is cross-checked against @noble/hashes in
// test/chain/sha256d.test.ts.

/** FIPS 180-4 section 4.2.2: the round constants. */
export const SHA256_K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
/** FIPS 180-4 section 5.3.3: the initial hash value. */
export const SHA256_IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

// Module-local names for the hot loops (an imported or exported binding is read through a module cell).
const K = SHA256_K;
const IV = SHA256_IV;

// Module-level scratch is safe: the functions below are synchronous and never re-entered.
const W = new Int32Array(64);
const S = new Int32Array(8);

// One round per iteration. The 8-round unrolled form ran the warm loop ~7% faster (7.3 vs 7.8 ms
// for the 8,065 shared headers) but cost V8's optimising compiler ~4x the work (9-14 vs 2-5 ms of
// compile time on the development machine), paid by every fresh process before its first
// validation is fast (test/bench/coldstart.ts).
function compress(st: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15];
    const w2 = W[i - 2];
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = st[0],
    b = st[1],
    c = st[2],
    d = st[3],
    e = st[4],
    f = st[5],
    g = st[6],
    h = st[7];
  for (let i = 0; i < 64; i++) {
    const t1 =
      (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  st[0] = (st[0] + a) | 0;
  st[1] = (st[1] + b) | 0;
  st[2] = (st[2] + c) | 0;
  st[3] = (st[3] + d) | 0;
  st[4] = (st[4] + e) | 0;
  st[5] = (st[5] + f) | 0;
  st[6] = (st[6] + g) | 0;
  st[7] = (st[7] + h) | 0;
}

/**
 * sha256(sha256(buf[offset..offset+80])) written into `out` as eight big-endian 32-bit words
 * (out[0] holds digest bytes 0..3). The caller guarantees 80 readable bytes at `offset`.
 */
export function sha256d80(buf: Uint8Array, offset: number, out: Int32Array): void {
  S.set(IV);
  for (let i = 0; i < 16; i++) {
    const p = offset + i * 4;
    W[i] = (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3];
  }
  compress(S);
  for (let i = 0; i < 4; i++) {
    const p = offset + 64 + i * 4;
    W[i] = (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3];
  }
  finish80();
  out.set(S);
}

/** The rest of a header's double SHA-256 once its last 16 bytes are in W[0..3]: padding, the second block, the outer hash. */
function finish80(): void {
  W[4] = 0x80000000 | 0;
  for (let i = 5; i < 15; i++) W[i] = 0;
  W[15] = 640; // message length in bits
  compress(S);
  finishDouble();
}

const bswap32 = (w: number) => (w >>> 24) | ((w >>> 8) & 0xff00) | ((w & 0xff00) << 8) | (w << 24);

/**
 * sha256d80 over a header held as 20 little-endian 32-bit words (words[at..at+20], its bytes in
 * order on a little-endian CPU), the digest written the same way: out[outAt..outAt+8] are the
 * digest's bytes as little-endian words. Word loads instead of byte loads, for the batch hasher
 * (sha256d-batch.ts), whose scratch the chain reads as words.
 */
export function sha256d80Words(words: Uint32Array, at: number, out: Uint32Array, outAt: number): void {
  S.set(IV);
  for (let i = 0; i < 16; i++) W[i] = bswap32(words[at + i]);
  compress(S);
  for (let i = 0; i < 4; i++) W[i] = bswap32(words[at + 16 + i]);
  finish80();
  for (let i = 0; i < 8; i++) out[outAt + i] = bswap32(S[i]);
}

/** Digest words (as written by sha256d80) to the 32 hash bytes in internal order. */
export function digestWordsToBytes(words: Int32Array, out: Uint8Array, offset = 0): void {
  for (let i = 0; i < 8; i++) {
    const w = words[i];
    const p = offset + i * 4;
    out[p] = w >>> 24;
    out[p + 1] = (w >>> 16) & 0xff;
    out[p + 2] = (w >>> 8) & 0xff;
    out[p + 3] = w & 0xff;
  }
}

/** Convenience: the block hash (internal byte order) of an 80-byte header. */
export function headerHash80(raw: Uint8Array): Uint8Array {
  const words = new Int32Array(8);
  sha256d80(raw, 0, words);
  const out = new Uint8Array(32);
  digestWordsToBytes(words, out);
  return out;
}

function loadWords(buf: Uint8Array, offset: number, words: number): void {
  for (let i = 0; i < words; i++) {
    const p = offset + i * 4;
    W[i] = (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3];
  }
}

function storeState(out: Uint8Array, offset: number): void {
  for (let i = 0; i < 8; i++) {
    const w = S[i];
    const p = offset + i * 4;
    out[p] = w >>> 24;
    out[p + 1] = (w >>> 16) & 0xff;
    out[p + 2] = (w >>> 8) & 0xff;
    out[p + 3] = w & 0xff;
  }
}

/** Second round of a double SHA-256: hashes the 32-byte digest held in S. */
function finishDouble(): void {
  for (let i = 0; i < 8; i++) W[i] = S[i];
  W[8] = 0x80000000 | 0;
  for (let i = 9; i < 15; i++) W[i] = 0;
  W[15] = 256;
  S.set(IV);
  compress(S);
}

/**
 * sha256(sha256(buf[offset..offset+64])) into out[outOffset..+32]: one merkle-tree node (two
 * child hashes). Same reason as sha256d80: measured on the shared mainnet blocks, a native call
 * per 64-byte node (node:crypto.hash twice, ~6 us) made the merkle trees most of a block's
 * verification time; this runs about 5x faster (test/bench/blocks.ts).
 */
export function sha256d64(buf: Uint8Array, offset: number, out: Uint8Array, outOffset: number): void {
  S.set(IV);
  loadWords(buf, offset, 16);
  compress(S);
  W[0] = 0x80000000 | 0;
  for (let i = 1; i < 15; i++) W[i] = 0;
  W[15] = 512;
  compress(S);
  finishDouble();
  storeState(out, outOffset);
}

/** sha256(buf[offset..offset+32]) into out[outOffset..+32]: the outer hash of a txid. */
export function sha256of32(buf: Uint8Array, offset: number, out: Uint8Array, outOffset: number): void {
  S.set(IV);
  loadWords(buf, offset, 8);
  W[8] = 0x80000000 | 0;
  for (let i = 9; i < 15; i++) W[i] = 0;
  W[15] = 256;
  compress(S);
  storeState(out, outOffset);
}

const TAIL = new Uint8Array(128);

/**
 * sha256(sha256(buf[start..end])) into out[outOffset..+32], reading the bytes in place. For a
 * transaction of a few hundred bytes this beats a native call (whose fixed cost is ~3 us).
 */
export function sha256dRange(buf: Uint8Array, start: number, end: number, out: Uint8Array, outOffset: number): void {
  S.set(IV);
  const len = end - start;
  let p = start;
  for (; p + 64 <= end; p += 64) {
    for (let i = 0; i < 16; i++) {
      const q = p + i * 4;
      W[i] = (buf[q] << 24) | (buf[q + 1] << 16) | (buf[q + 2] << 8) | buf[q + 3];
    }
    compress(S);
  }
  // Padding: 0x80, zeros, 64-bit big-endian bit length; one or two final blocks.
  const rest = end - p;
  TAIL.fill(0);
  TAIL.set(buf.subarray(p, end), 0);
  TAIL[rest] = 0x80;
  const blocks = rest + 9 > 64 ? 2 : 1;
  const bits = len * 8;
  const lenAt = blocks * 64 - 8;
  const hi = Math.floor(bits / 0x100000000);
  TAIL[lenAt] = hi >>> 24;
  TAIL[lenAt + 1] = (hi >>> 16) & 0xff;
  TAIL[lenAt + 2] = (hi >>> 8) & 0xff;
  TAIL[lenAt + 3] = hi & 0xff;
  TAIL[lenAt + 4] = bits >>> 24;
  TAIL[lenAt + 5] = (bits >>> 16) & 0xff;
  TAIL[lenAt + 6] = (bits >>> 8) & 0xff;
  TAIL[lenAt + 7] = bits & 0xff;
  for (let b = 0; b < blocks; b++) {
    loadWords(TAIL, b * 64, 16);
    compress(S);
  }
  finishDouble();
  storeState(out, outOffset);
}
