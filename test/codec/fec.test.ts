// Fountain code version 2 (src/codec/fec.ts): rows, precode, systematic encoding, decoding from
// any k (or very few more) symbols, and "not yet" instead of a guess.
import { describe, expect, it } from 'vitest';
import {
  decodeSymbols,
  encodingRow,
  FountainEncoder,
  fountainParams,
  gfInv,
  gfMul,
  hdpcMatrix,
  ldpcRows,
  SALT_EXCEPTIONS,
  systematicSolvable,
} from '../../src/codec/fec.js';
import { Prng } from './prng.js';

describe('GF(256)', () => {
  it('multiplies with the field polynomial 0x11d and inverts every non-zero element', () => {
    expect(gfMul(2, 0x80)).toBe(0x1d);
    expect(gfMul(0x53, 0)).toBe(0);
    for (let a = 1; a < 256; a++) expect(gfMul(a, gfInv(a))).toBe(1);
  });
});

/** Symbol x computed straight from the definition: XOR of the row's intermediate symbols. */
function xorRow(cols: number[], inter: Uint8Array[], len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (const c of cols) for (let i = 0; i < len; i++) out[i] ^= inter[c][i];
  return out;
}

describe('fountain code v2', () => {
  it('rows are deterministic, distinct, in range, with 2 inactive columns', () => {
    const p = fountainParams(300);
    expect(p.s).toBeGreaterThanOrEqual(7);
    const a = encodingRow(p, 1000);
    expect(encodingRow(p, 1000)).toEqual(a);
    expect(encodingRow(p, 1001)).not.toEqual(a);
    for (let x = 0; x < 2000; x++) {
      const cols = encodingRow(p, x);
      const lt = cols.slice(0, -2);
      const pi = cols.slice(-2);
      expect(new Set(lt).size).toBe(lt.length);
      expect(lt.every((c) => c >= 0 && c < p.b)).toBe(true);
      expect(pi[0]).not.toBe(pi[1]);
      expect(pi.every((c) => c >= p.b && c < p.w)).toBe(true);
    }
    // Each source column is in exactly 3 LDPC rows.
    const count = new Array(p.k).fill(0);
    for (const row of ldpcRows(p)) for (const c of row) if (c < p.k) count[c]++;
    expect(count.every((n) => n === 3)).toBe(true);
  });

  it('the intermediate symbols satisfy every row: sources, repairs, LDPC and HDPC (GF(256)) constraints', () => {
    const rng = new Prng(5);
    const k = 57;
    const len = 9;
    const source = Array.from({ length: k }, () => rng.bytes(len));
    const enc = new FountainEncoder(source);
    enc.symbol(k);
    const inter = (enc as unknown as { sol: { inter: Uint8Array; stride: number } }).sol;
    const p = enc.params;
    const rows = Array.from({ length: p.w }, (_, c) => inter.inter.slice(c * inter.stride, c * inter.stride + len));
    for (let x = 0; x < k; x++) expect(xorRow(encodingRow(p, x), rows, len)).toEqual(source[x]);
    for (let x = k; x < k + 20; x++) expect(xorRow(encodingRow(p, x), rows, len)).toEqual(enc.symbol(x));
    for (const row of ldpcRows(p)) expect(xorRow(row, rows, len)).toEqual(new Uint8Array(len));
    const hdpc = hdpcMatrix(p);
    for (let j = 0; j < p.h; j++) {
      const acc = Uint8Array.from(rows[p.b + j]);
      for (let c = 0; c < p.b; c++) for (let i = 0; i < len; i++) acc[i] ^= gfMul(hdpc[j][c], rows[c][i]);
      expect(acc).toEqual(new Uint8Array(len));
    }
  });

  it('recovers k source symbols from k (or a few more) random survivors (property, seeded)', () => {
    const rng = new Prng(20);
    let extraTotal = 0;
    const trials = 80;
    for (let t = 0; t < trials; t++) {
      const k = rng.range(1, 300);
      const len = rng.range(1, 40);
      const source = Array.from({ length: k }, () => rng.bytes(len));
      const enc = new FountainEncoder(source);
      const loss = rng.pick([0.1, 0.3, 0.5, 0.8]);
      const received = new Map<number, Uint8Array>();
      let decoded: Uint8Array[] | null = null;
      for (let index = 0; index < k * 20 + 20 && !decoded; index++) {
        if (rng.chance(loss)) continue;
        received.set(index, enc.symbol(index));
        if (received.size >= k) decoded = decodeSymbols(k, len, received);
      }
      expect(decoded).not.toBeNull();
      expect(decoded!.map((s) => Buffer.from(s).toString('hex'))).toEqual(source.map((s) => Buffer.from(s).toString('hex')));
      extraTotal += received.size - k;
    }
    // About 1 decode in 100 needs one symbol more than k.
    expect(extraTotal).toBeLessThanOrEqual(4);
  });

  it('says "not yet" instead of guessing when too few symbols arrived', () => {
    const rng = new Prng(21);
    const source = Array.from({ length: 10 }, () => rng.bytes(8));
    const enc = new FountainEncoder(source);
    const received = new Map<number, Uint8Array>([
      [0, source[0]],
      [11, enc.symbol(11)],
    ]);
    expect(decodeSymbols(10, 8, received)).toBeNull();
    // k symbols of which two are the same equation: still not enough.
    const nine = new Map<number, Uint8Array>();
    for (let i = 1; i < 10; i++) nine.set(i, source[i]);
    expect(decodeSymbols(10, 8, nine)).toBeNull();
    nine.set(12, enc.symbol(12));
    expect(decodeSymbols(10, 8, nine)).toEqual(source);
  });

  it('the salt table makes every listed k solvable, and salt 0 really fails for them', () => {
    for (const [k, salt] of [...SALT_EXCEPTIONS].slice(0, 6)) {
      expect(systematicSolvable(k, 0)).toBe(false);
      expect(systematicSolvable(k, salt)).toBe(true);
    }
    for (const k of [1, 2, 3, 7, 64, 255, 1000, 2016]) expect(systematicSolvable(k, fountainParams(k).salt)).toBe(true);
  });
});
