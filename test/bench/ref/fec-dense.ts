// Bench reference: the dense random linear fountain code (fountain v1) as it was before issue 18
// (commit 9b4a671), kept verbatim so `npm run bench` measures the sparse code against it.
// Systematic random linear fountain code over GF(256) (codecs/frames.md section "Erasure code").
// Source symbols 0..k-1 are the data itself; repair symbol j >= k is a linear combination of all
// k source symbols with coefficients from a seeded generator. Any k received symbols decode
// with probability about 99.6%, k+1 with about 99.998% (a random square matrix over GF(256)).
//
// Why not Reed-Solomon over GF(256): it allows at most 255 symbols per code word, so a 2016-header
// batch at a LoRa MTU (~1,900 fragments) would need several blocks, and the worst block then sets
// how much must be sent. A fountain code has no such cap and costs one Gaussian elimination over
// the missing symbols only, which is fast enough for k in the low thousands.

/** x^8 + x^4 + x^3 + x^2 + 1, the usual Reed-Solomon field polynomial; 2 generates the field. */
export const GF_POLY = 0x11d;

export const GF_EXP = new Uint8Array(512);
export const GF_LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    GF_EXP[i] = x;
    GF_LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= GF_POLY;
  }
  for (let i = 255; i < 512; i++) GF_EXP[i] = GF_EXP[i - 255];
}

/** 256 x 256 product table: row `a` starts at a * 256. */
const GF_MUL = new Uint8Array(65536);
for (let a = 1; a < 256; a++) {
  for (let b = 1; b < 256; b++) GF_MUL[(a << 8) | b] = GF_EXP[GF_LOG[a] + GF_LOG[b]];
}

export function gfMul(a: number, b: number): number {
  return GF_MUL[(a << 8) | b];
}

export function gfInv(a: number): number {
  if (a === 0) throw new RangeError('zero has no inverse in GF(256)');
  return GF_EXP[255 - GF_LOG[a]];
}

/** dst ^= c * src over the first `len` bytes. */
function addMul(dst: Uint8Array, src: Uint8Array, c: number, len: number): void {
  if (c === 0) return;
  if (c === 1) {
    for (let i = 0; i < len; i++) dst[i] ^= src[i];
    return;
  }
  const base = c << 8;
  for (let i = 0; i < len; i++) dst[i] ^= GF_MUL[base | src[i]];
}

function mulInPlace(row: Uint8Array, c: number): void {
  const base = c << 8;
  for (let i = 0; i < row.length; i++) row[i] = GF_MUL[base | row[i]];
}

/** MurmurHash3's 32-bit finalizer. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The k coefficients of repair symbol `index` (>= k): a counter-mode hash, coefficient i being
 * the top byte of fmix32(seed + (i + 1) * 0x9E3779B9). A linear generator (xorshift, LFSR) would
 * not do: its outputs span a 32-dimensional space over GF(2), capping the rank at 32.
 */
export function repairCoefficients(k: number, index: number): Uint8Array {
  const seed = fmix32((Math.imul(index, 0x9e3779b1) + Math.imul(k, 0x85ebca77)) >>> 0);
  const out = new Uint8Array(k);
  for (let i = 0; i < k; i++) {
    out[i] = fmix32((seed + Math.imul(i + 1, 0x9e3779b9)) >>> 0) >>> 24 || 1;
  }
  return out;
}

/** Repair symbol `index` (>= k) of the k source symbols (all the same length). */
export function encodeRepair(source: Uint8Array[], index: number): Uint8Array {
  const k = source.length;
  if (index < k) throw new RangeError(`repair index ${index} must be >= k (${k})`);
  const len = source[0].length;
  const coef = repairCoefficients(k, index);
  const out = new Uint8Array(len);
  for (let i = 0; i < k; i++) addMul(out, source[i], coef[i], len);
  return out;
}

/**
 * Recovers the k source symbols from received ones (index -> symbol of `len` bytes), or returns
 * null when the received repair symbols do not yet determine the missing ones (send more).
 */
export function decodeSymbols(k: number, len: number, received: ReadonlyMap<number, Uint8Array>): Uint8Array[] | null {
  const out: Uint8Array[] = new Array(k);
  const missing: number[] = [];
  for (let i = 0; i < k; i++) {
    const s = received.get(i);
    if (s) out[i] = s;
    else missing.push(i);
  }
  const e = missing.length;
  if (e === 0) return out;
  const repairIdx: number[] = [];
  for (const idx of received.keys()) if (idx >= k) repairIdx.push(idx);
  if (repairIdx.length < e) return null;
  repairIdx.sort((a, b) => a - b);

  // One equation per repair symbol over the missing sources: A x = b, where b is the repair
  // symbol minus the contribution of the sources already received.
  const rows = repairIdx.length;
  const a: Uint8Array[] = new Array(rows);
  const b: Uint8Array[] = new Array(rows);
  for (let r = 0; r < rows; r++) {
    const coef = repairCoefficients(k, repairIdx[r]);
    const rhs = Uint8Array.from(received.get(repairIdx[r])!);
    for (let i = 0; i < k; i++) if (out[i]) addMul(rhs, out[i], coef[i], len);
    const row = new Uint8Array(e);
    for (let m = 0; m < e; m++) row[m] = coef[missing[m]];
    a[r] = row;
    b[r] = rhs;
  }
  // Forward elimination with normalized pivots, then back substitution.
  for (let col = 0; col < e; col++) {
    let p = col;
    while (p < rows && a[p][col] === 0) p++;
    if (p === rows) return null;
    if (p !== col) {
      [a[p], a[col]] = [a[col], a[p]];
      [b[p], b[col]] = [b[col], b[p]];
    }
    const inv = gfInv(a[col][col]);
    mulInPlace(a[col], inv);
    mulInPlace(b[col], inv);
    const pa = a[col];
    const pb = b[col];
    for (let r = col + 1; r < rows; r++) {
      const c = a[r][col];
      if (c === 0) continue;
      const ar = a[r];
      const base = c << 8;
      for (let m = col; m < e; m++) ar[m] ^= GF_MUL[base | pa[m]];
      addMul(b[r], pb, c, len);
    }
  }
  for (let col = e - 1; col >= 0; col--) {
    for (let r = 0; r < col; r++) {
      const c = a[r][col];
      if (c !== 0) {
        addMul(b[r], b[col], c, len);
        a[r][col] = 0;
      }
    }
  }
  for (let m = 0; m < e; m++) out[missing[m]] = b[m];
  return out;
}
