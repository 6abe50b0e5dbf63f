// Fountain code version 2 (codecs/frames.md section 4.3): a systematic sparse code over GF(256)
// with a precode and inactivation decoding, after RaptorQ (RFC 6330) in simplified form.
// Written by hand: the FEC is the heart of the project.
//
// W = k + s + h intermediate symbols C. Every encoding symbol x (0..16383) is a sparse
// combination of them: d LT neighbours among the first B = k + s (d from RFC 6330's degree
// table, mean 4.8) plus 2 of the last h (the dense "permanently inactive" part). The precode
// ties them together: s sparse LDPC rows (each of the first k columns in 3 of them) and h dense
// HDPC rows, all with right-hand side zero. Systematic: the encoder solves for C such that
// symbols 0..k-1 are the source itself; repair symbols are then d + 2 multiply-adds each.
//
// Decoding (and the encoder's solve) peels the sparse rows, inactivating a column whenever no
// row of active degree one is left; the inactive columns (the h dense ones plus those few) form
// a small dense system solved by Gaussian elimination; the rest follows by substitution. Cost is
// about (row nonzeros) x L plus (inactive)^2 x L, against e^3/3 + e k L for the dense code of
// version 1, whose reference copy is test/bench/ref/fec-dense.ts (measured: npm run bench -- fec).
//
// Why the intermediate symbols rather than repair rows straight over the source: a receiver
// already holds most sources, so a sparse row over the source touches the few missing ones
// rarely, and at 10% loss most repair rows carry nothing new (simulated: 3% overhead and more).
// Here every row is over unknowns, whatever the loss.

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

/** MurmurHash3's 32-bit finalizer. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Counter-mode generator: value n of stream `seed`. */
function draw(seed: number, n: number): number {
  return fmix32((seed + Math.imul(n + 1, 0x9e3779b9)) >>> 0);
}

/** RFC 6330 section 5.3.5.2, Table 1: cumulative degree distribution out of 2^20. */
const DEGREE_CDF = [
  0, 5243, 529531, 704294, 791675, 844104, 879057, 904023, 922747, 937311, 948962, 958494, 966438, 973160, 978921, 983914, 988283, 992138,
  995565, 998631, 1001391, 1003887, 1006157, 1008229, 1010129, 1011876, 1013490, 1014983, 1016370, 1017662, 1048576,
];

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let p = 2; p * p <= n; p++) if (n % p === 0) return false;
  return true;
}

export interface FountainParams {
  k: number;
  /** LDPC precode rows (a prime >= 7). */
  s: number;
  /** HDPC precode rows, also the number of permanently inactive columns. */
  h: number;
  /** k + s: the columns an LT neighbour is drawn from. */
  b: number;
  /** k + s + h intermediate symbols. */
  w: number;
  /** Row salt that makes the encoder's system solvable (SALT_EXCEPTIONS). */
  salt: number;
}

/** HDPC rows (and permanently inactive columns). */
export const HDPC_ROWS = 16;

/**
 * The k for which salt 0 leaves the encoder's system singular, and the salt that works instead
 * (computed by test/codec/fec-salts.ts over k = 1..4096; every other k uses salt 0).
 */
export const SALT_EXCEPTIONS: ReadonlyMap<number, number> = new Map<number, number>([
  [151, 1],
  [264, 1],
  [378, 1],
  [472, 1],
  [662, 1],
  [853, 1],
  [866, 1],
  [909, 1],
  [1187, 1],
  [1304, 1],
  [1712, 1],
  [1733, 1],
  [1762, 1],
  [1845, 1],
  [1856, 1],
  [1872, 1],
  [1965, 1],
  [1988, 1],
  [2027, 1],
  [2056, 1],
  [2160, 1],
  [2174, 1],
  [2259, 1],
  [2365, 1],
  [2398, 1],
  [2605, 1],
  [2625, 1],
  [2660, 1],
  [2668, 1],
  [2684, 1],
  [2732, 1],
  [2758, 1],
  [2816, 1],
  [2836, 1],
  [2879, 1],
  [2902, 1],
  [2922, 1],
  [2941, 1],
  [3035, 1],
  [3061, 1],
  [3083, 1],
  [3119, 1],
  [3159, 1],
  [3170, 1],
  [3189, 1],
  [3194, 1],
  [3227, 1],
  [3234, 1],
  [3262, 1],
  [3267, 1],
  [3335, 1],
  [3355, 1],
  [3391, 1],
  [3397, 1],
  [3516, 1],
  [3535, 1],
  [3592, 1],
  [3627, 1],
  [3645, 1],
  [3658, 1],
  [3687, 1],
  [3693, 1],
  [3694, 1],
  [3725, 1],
  [3732, 2],
  [3749, 1],
  [3767, 1],
  [3787, 1],
  [3852, 1],
  [3867, 1],
  [3882, 1],
  [3885, 1],
  [3896, 1],
  [3927, 1],
  [3978, 1],
  [4023, 1],
  [4055, 1],
  [4069, 1],
]);

export function fountainParams(k: number): FountainParams {
  if (!Number.isInteger(k) || k < 1 || k > 65535) throw new RangeError(`k must be 1..65535, got ${k}`);
  // As RFC 6330 5.3.3.3: X the smallest with X(X-1) >= 2k, S the next prime >= ceil(0.01k) + X.
  let x = 1;
  while (x * (x - 1) < 2 * k) x++;
  let s = Math.max(7, Math.ceil(0.01 * k) + x);
  while (!isPrime(s)) s++;
  const h = HDPC_ROWS;
  return { k, s, h, b: k + s, w: k + s + h, salt: SALT_EXCEPTIONS.get(k) ?? 0 };
}

function rowSeed(p: FountainParams, x: number): number {
  return fmix32((Math.imul(x, 0x9e3779b1) + Math.imul(p.k, 0x85ebca77) + Math.imul(p.salt + 1, 0xc2b2ae3d)) >>> 0);
}

/**
 * Columns of encoding symbol x (all coefficients 1): d distinct LT columns in [0, b), d from
 * the degree table, then 2 distinct columns in [b, w) (codecs/frames.md 4.3.2).
 */
export function encodingRow(p: FountainParams, x: number): number[] {
  const seed = rowSeed(p, x);
  let n = 0;
  const v = draw(seed, n++) >>> 12;
  let d = 1;
  while (v >= DEGREE_CDF[d]) d++;
  d = Math.min(d, p.b);
  const cols: number[] = [];
  while (cols.length < d) {
    const c = draw(seed, n++) % p.b;
    if (!cols.includes(c)) cols.push(c);
  }
  const p1 = p.b + (draw(seed, n++) % p.h);
  let p2 = p1;
  while (p2 === p1) p2 = p.b + (draw(seed, n++) % p.h);
  cols.push(p1, p2);
  return cols;
}

/**
 * The s LDPC rows (coefficients 1), after RFC 6330 5.3.3.3: column i < k is in rows r, r+a,
 * r+2a (mod s) with a = 1 + floor(i/s) mod (s-1), r = i mod s; row j also holds column k+j and
 * the inactive columns b + (j mod h), b + ((j+1) mod h).
 */
export function ldpcRows(p: FountainParams): number[][] {
  const rows: number[][] = Array.from({ length: p.s }, () => []);
  for (let i = 0; i < p.k; i++) {
    const a = 1 + (Math.floor(i / p.s) % (p.s - 1));
    const r = i % p.s;
    rows[r].push(i);
    rows[(r + a) % p.s].push(i);
    rows[(r + 2 * a) % p.s].push(i);
  }
  for (let j = 0; j < p.s; j++) rows[j].push(p.k + j, p.b + (j % p.h), p.b + ((j + 1) % p.h));
  return rows;
}

/**
 * HDPC rows = MT x GAMMA (RFC 6330 5.3.3.3), over columns [0, b), plus column b + i in row i:
 * GAMMA[j][c] = alpha^(j-c) for c <= j (alpha = 2), and MT column j < b-1 has a 1 in rows
 * m1 = r mod h and m2 = (m1 + 1 + r' mod (h-1)) mod h (r, r' drawn per column), column b-1
 * has alpha^i in row i. Returns the two rows per column as a flat array.
 */
export function hdpcPattern(p: FountainParams): Uint16Array {
  const seed = fmix32((Math.imul(p.k, 0x27d4eb2f) + Math.imul(p.salt + 1, 0x165667b1)) >>> 0);
  const out = new Uint16Array(2 * p.b);
  for (let j = 0; j < p.b; j++) {
    const m1 = draw(seed, 2 * j) % p.h;
    out[2 * j] = m1;
    out[2 * j + 1] = (m1 + 1 + (draw(seed, 2 * j + 1) % (p.h - 1))) % p.h;
  }
  return out;
}

/** The full HDPC matrix (h x b), for tests and vectors; the solver never builds it. */
export function hdpcMatrix(p: FountainParams): Uint8Array[] {
  const mt = hdpcPattern(p);
  const rows = Array.from({ length: p.h }, () => new Uint8Array(p.b));
  // Row i, column c = sum over j >= c of MT[i][j] alpha^(j-c).
  const g = new Uint8Array(p.h); // running sum for the current column, per row
  for (let c = p.b - 1; c >= 0; c--) {
    for (let i = 0; i < p.h; i++) g[i] = gfMul(g[i], 2);
    if (c === p.b - 1) for (let i = 0; i < p.h; i++) g[i] ^= GF_EXP[i];
    else {
      g[mt[2 * c]] ^= 1;
      g[mt[2 * c + 1]] ^= 1;
    }
    for (let i = 0; i < p.h; i++) rows[i][c] = g[i];
  }
  return rows;
}

const MUL_ALPHA = GF_MUL.subarray(2 << 8, 3 << 8);

/**
 * Solves for the w intermediate symbols from encoding rows (indexes xs, with their symbols)
 * plus the precode rows (right-hand side zero). Returns them as one buffer of w rows of
 * `stride` bytes, or null when the rows do not determine them. `len` may be 0 (rank check).
 */
function solve(
  p: FountainParams,
  xs: ArrayLike<number>,
  symbols: ArrayLike<Uint8Array>,
  len: number,
): { inter: Uint8Array; stride: number } | null {
  const { b, w, h, s } = p;
  const nEnc = xs.length;
  // Sparse rows (GF(2)) in CSR form: encoding rows, then LDPC rows.
  const rowList: number[][] = new Array(nEnc + s);
  for (let r = 0; r < nEnc; r++) rowList[r] = encodingRow(p, xs[r]);
  const ldpc = ldpcRows(p);
  for (let j = 0; j < s; j++) rowList[nEnc + j] = ldpc[j];
  const nRows = nEnc + s;
  let nnz = 0;
  for (const r of rowList) nnz += r.length;
  const rowStart = new Int32Array(nRows + 1);
  const rowCols = new Int32Array(nnz);
  for (let r = 0, o = 0; r < nRows; r++) {
    rowStart[r] = o;
    for (const c of rowList[r]) rowCols[o++] = c;
    rowStart[r + 1] = o;
  }

  // ---- phase 1: peel over columns [0, b); columns [b, w) are permanently inactive ----
  const colCount = new Int32Array(b);
  const deg = new Int32Array(nRows);
  for (let r = 0; r < nRows; r++) {
    for (let i = rowStart[r]; i < rowStart[r + 1]; i++) {
      const c = rowCols[i];
      if (c < b) {
        colCount[c]++;
        deg[r]++;
      }
    }
  }
  const colStart = new Int32Array(b + 1);
  for (let c = 0; c < b; c++) colStart[c + 1] = colStart[c] + colCount[c];
  const colRows = new Int32Array(colStart[b]);
  const fill = colStart.slice(0, b);
  for (let r = 0; r < nRows; r++) {
    for (let i = rowStart[r]; i < rowStart[r + 1]; i++) if (rowCols[i] < b) colRows[fill[rowCols[i]]++] = r;
  }
  const state = new Uint8Array(w); // 0 active, 1 pivot, 2 inactive
  state.fill(2, b);
  const used = new Uint8Array(nRows);
  const pivotRow = new Int32Array(nRows);
  const pivotCol = new Int32Array(nRows);
  let nP = 0;
  // Bucket queue by active degree, lazy deletion (degrees only fall): a stack per degree.
  let maxDeg = 0;
  for (let r = 0; r < nRows; r++) if (deg[r] > maxDeg) maxDeg = deg[r];
  const buckets: number[][] = Array.from({ length: maxDeg + 1 }, () => []);
  for (let r = nRows - 1; r >= 0; r--) buckets[deg[r]].push(r);
  let minDeg = 1;
  const drop = (c: number): void => {
    for (let i = colStart[c]; i < colStart[c + 1]; i++) {
      const r = colRows[i];
      if (used[r]) continue;
      const d = --deg[r];
      buckets[d].push(r);
      if (d >= 1 && d < minDeg) minDeg = d;
    }
  };
  for (;;) {
    let row = -1;
    while (row < 0 && minDeg <= maxDeg) {
      const bucket = buckets[minDeg];
      while (bucket.length) {
        const r = bucket.pop()!;
        if (!used[r] && deg[r] === minDeg) {
          row = r;
          break;
        }
      }
      if (row < 0) minDeg++;
    }
    if (row < 0) break;
    used[row] = 1;
    // Pivot on the active column in the fewest rows; inactivate the row's other active columns.
    let pc = -1;
    for (let i = rowStart[row]; i < rowStart[row + 1]; i++) {
      const c = rowCols[i];
      if (c < b && state[c] === 0 && (pc < 0 || colCount[c] < colCount[pc])) pc = c;
    }
    for (let i = rowStart[row]; i < rowStart[row + 1]; i++) {
      const c = rowCols[i];
      if (c < b && state[c] === 0 && c !== pc) {
        state[c] = 2;
        drop(c);
      }
    }
    state[pc] = 1;
    pivotRow[nP] = row;
    pivotCol[nP++] = pc;
    drop(pc);
  }
  const inactiveIdx = new Int32Array(w).fill(-1);
  let nI = 0;
  for (let c = 0; c < w; c++) {
    if (state[c] === 0) state[c] = 2; // reached by no pivot row
    if (state[c] === 2) inactiveIdx[c] = nI++;
  }
  if (nRows - nP + h < nI) return null;

  // ---- phase 2: pivot column pc_t as x = zr_t + zu_t . x_inactive (GF(2): XOR only) ----
  const stride = (len + 3) & ~3; // symbol rows padded to whole 32-bit words
  const sw = stride >> 2;
  const uw = (nI + 31) >> 5; // inactive-column bitset words
  const zr = new Uint8Array(nP * stride);
  const zr32 = new Uint32Array(zr.buffer);
  const zu = new Uint32Array(nP * uw);
  const pivotOfCol = new Int32Array(w).fill(-1);
  const rhsInto = (r: number, dst: Uint8Array, off: number): void => {
    if (r < nEnc && len) dst.set(symbols[r].subarray(0, len), off);
  };
  for (let t = 0; t < nP; t++) {
    const r = pivotRow[t];
    const pc = pivotCol[t];
    rhsInto(r, zr, t * stride);
    const ro = t * sw;
    const uo = t * uw;
    for (let i = rowStart[r]; i < rowStart[r + 1]; i++) {
      const c = rowCols[i];
      if (c === pc) continue;
      if (state[c] === 1) {
        const tt = pivotOfCol[c];
        const so = tt * sw;
        for (let q = 0; q < sw; q++) zr32[ro + q] ^= zr32[so + q];
        const su = tt * uw;
        for (let q = 0; q < uw; q++) zu[uo + q] ^= zu[su + q];
      } else {
        const j = inactiveIdx[c];
        zu[uo + (j >> 5)] ^= 1 << (j & 31);
      }
    }
    pivotOfCol[pc] = t;
  }

  // ---- phase 3: dense system over the inactive columns: leftover sparse rows, then HDPC ----
  const dRows: Uint8Array[] = [];
  const dRhs: Uint8Array[] = [];
  const accU = new Uint32Array(uw);
  for (let r = 0; r < nRows; r++) {
    if (used[r]) continue;
    const rhs = new Uint8Array(stride);
    rhsInto(r, rhs, 0);
    const rhs32 = new Uint32Array(rhs.buffer);
    accU.fill(0);
    for (let i = rowStart[r]; i < rowStart[r + 1]; i++) {
      const c = rowCols[i];
      if (state[c] === 1) {
        const tt = pivotOfCol[c];
        for (let q = 0; q < sw; q++) rhs32[q] ^= zr32[tt * sw + q];
        for (let q = 0; q < uw; q++) accU[q] ^= zu[tt * uw + q];
      } else {
        const j = inactiveIdx[c];
        accU[j >> 5] ^= 1 << (j & 31);
      }
    }
    const u = new Uint8Array(nI);
    for (let j = 0; j < nI; j++) u[j] = (accU[j >> 5] >>> (j & 31)) & 1;
    dRows.push(u);
    dRhs.push(rhs);
  }
  // HDPC: G_j = alpha G_(j-1) + X_j over columns j = 0..b-1 (X_j the column's substitution),
  // and row i accumulates the G_j of the MT entries in row i. Cost ~ b (stride + nI) whatever h.
  const mt = hdpcPattern(p);
  const gr = new Uint8Array(stride);
  const gu = new Uint8Array(nI);
  const hr = Array.from({ length: h }, () => new Uint8Array(stride));
  const hu = Array.from({ length: h }, () => new Uint8Array(nI));
  for (let c = 0; c < b; c++) {
    for (let q = 0; q < stride; q++) gr[q] = MUL_ALPHA[gr[q]];
    for (let q = 0; q < nI; q++) gu[q] = MUL_ALPHA[gu[q]];
    if (state[c] === 1) {
      const tt = pivotOfCol[c];
      const so = tt * stride;
      for (let q = 0; q < stride; q++) gr[q] ^= zr[so + q];
      const su = tt * uw;
      for (let wd = 0; wd < uw; wd++) {
        let bits = zu[su + wd];
        while (bits) {
          const lo = bits & -bits;
          gu[(wd << 5) + (31 - Math.clz32(lo))] ^= 1;
          bits ^= lo;
        }
      }
    } else gu[inactiveIdx[c]] ^= 1;
    if (c < b - 1) {
      for (const m of [mt[2 * c], mt[2 * c + 1]]) {
        const a = hr[m];
        const au = hu[m];
        for (let q = 0; q < stride; q++) a[q] ^= gr[q];
        for (let q = 0; q < nI; q++) au[q] ^= gu[q];
      }
    } else {
      for (let i = 0; i < h; i++) {
        const base = GF_EXP[i] << 8;
        const a = hr[i];
        const au = hu[i];
        for (let q = 0; q < stride; q++) a[q] ^= GF_MUL[base | gr[q]];
        for (let q = 0; q < nI; q++) au[q] ^= GF_MUL[base | gu[q]];
      }
    }
  }
  for (let i = 0; i < h; i++) {
    hu[i][inactiveIdx[b + i]] ^= 1;
    dRows.push(hu[i]);
    dRhs.push(hr[i]);
  }

  // Gauss-Jordan over GF(256) on the dense system.
  const m = dRows.length;
  for (let col = 0; col < nI; col++) {
    let piv = col;
    while (piv < m && dRows[piv][col] === 0) piv++;
    if (piv === m) return null;
    if (piv !== col) {
      [dRows[piv], dRows[col]] = [dRows[col], dRows[piv]];
      [dRhs[piv], dRhs[col]] = [dRhs[col], dRhs[piv]];
    }
    const pr = dRows[col];
    const prh = dRhs[col];
    const inv = gfInv(pr[col]);
    if (inv !== 1) {
      const base = inv << 8;
      for (let q = col; q < nI; q++) pr[q] = GF_MUL[base | pr[q]];
      for (let q = 0; q < len; q++) prh[q] = GF_MUL[base | prh[q]];
    }
    for (let r = 0; r < m; r++) {
      if (r === col) continue;
      const f = dRows[r][col];
      if (f === 0) continue;
      const row = dRows[r];
      const rh = dRhs[r];
      const base = f << 8;
      for (let q = col; q < nI; q++) row[q] ^= GF_MUL[base | pr[q]];
      for (let q = 0; q < len; q++) rh[q] ^= GF_MUL[base | prh[q]];
    }
  }

  // ---- phase 4: intermediate symbols; pivots by forward substitution in pivot order ----
  const inter = new Uint8Array(w * stride);
  const inter32 = new Uint32Array(inter.buffer);
  for (let c = 0; c < w; c++) if (inactiveIdx[c] >= 0) inter.set(dRhs[inactiveIdx[c]], c * stride);
  for (let t = 0; t < nP; t++) {
    const r = pivotRow[t];
    const pc = pivotCol[t];
    const o = pc * sw;
    rhsInto(r, inter, pc * stride);
    for (let i = rowStart[r]; i < rowStart[r + 1]; i++) {
      const c = rowCols[i];
      if (c === pc) continue;
      const so = c * sw;
      for (let q = 0; q < sw; q++) inter32[o + q] ^= inter32[so + q];
    }
  }
  return { inter, stride };
}

/** Encoding symbol x: the XOR of its row's intermediate symbols. */
function symbolFrom(p: FountainParams, sol: { inter: Uint8Array; stride: number }, x: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (const c of encodingRow(p, x)) {
    const o = c * sol.stride;
    for (let q = 0; q < len; q++) out[q] ^= sol.inter[o + q];
  }
  return out;
}

/** Sender side: source symbols as given, repair symbols from the intermediate symbols. */
export class FountainEncoder {
  readonly params: FountainParams;
  private sol: { inter: Uint8Array; stride: number } | undefined;

  constructor(private readonly source: Uint8Array[]) {
    if (source.length === 0) throw new RangeError('a message has at least one source symbol');
    this.params = fountainParams(source.length);
  }

  /** Symbol `index` (any index; below k it is the source symbol itself). */
  symbol(index: number): Uint8Array {
    const k = this.source.length;
    if (index < k) return this.source[index];
    if (!this.sol) {
      const xs = Array.from({ length: k }, (_, i) => i);
      const sol = solve(this.params, xs, this.source, this.source[0].length);
      if (!sol) throw new Error(`fountain code: the systematic system for k=${k} is singular; SALT_EXCEPTIONS is out of date`);
      this.sol = sol;
    }
    return symbolFrom(this.params, this.sol, index, this.source[0].length);
  }
}

/** True when the encoder's system for k is solvable with salt `salt` (builds the salt table). */
export function systematicSolvable(k: number, salt: number): boolean {
  const p = { ...fountainParams(k), salt };
  return (
    solve(
      p,
      Array.from({ length: k }, (_, i) => i),
      [],
      0,
    ) !== null
  );
}

/** Repair symbol `index` (>= k) of the k source symbols; builds an encoder each call. */
export function encodeRepair(source: Uint8Array[], index: number): Uint8Array {
  if (index < source.length) throw new RangeError(`repair index ${index} must be >= k (${source.length})`);
  return new FountainEncoder(source).symbol(index);
}

/**
 * Recovers the k source symbols from received ones (index -> symbol of `len` bytes), or returns
 * null when the received symbols do not yet determine them (wait for more).
 */
export function decodeSymbols(k: number, len: number, received: ReadonlyMap<number, Uint8Array>): Uint8Array[] | null {
  const out: Uint8Array[] = new Array(k);
  let missing = 0;
  for (let i = 0; i < k; i++) {
    const s = received.get(i);
    if (s) out[i] = s;
    else missing++;
  }
  if (missing === 0) return out;
  if (received.size < k) return null;
  const p = fountainParams(k);
  const xs: number[] = [];
  const syms: Uint8Array[] = [];
  for (const [x, sym] of received) {
    xs.push(x);
    syms.push(sym);
  }
  const sol = solve(p, xs, syms, len);
  if (!sol) return null;
  for (let i = 0; i < k; i++) if (!out[i]) out[i] = symbolFrom(p, sol, i, len);
  return out;
}
