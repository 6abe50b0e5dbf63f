import { describe, expect, it } from 'vitest';
import { decodeSymbols, encodeRepair, gfInv, gfMul, repairCoefficients } from '../../src/codec/fec.js';
import { Prng } from './prng.js';

describe('GF(256)', () => {
  it('multiplies with the field polynomial 0x11d and inverts every non-zero element', () => {
    expect(gfMul(2, 0x80)).toBe(0x1d);
    expect(gfMul(0x53, 0)).toBe(0);
    for (let a = 1; a < 256; a++) expect(gfMul(a, gfInv(a))).toBe(1);
  });
});

describe('fountain code', () => {
  it('derives non-zero coefficients deterministically from (k, index)', () => {
    const a = repairCoefficients(50, 77);
    expect(a).toEqual(repairCoefficients(50, 77));
    expect(a).not.toEqual(repairCoefficients(50, 78));
    expect(a.every((c) => c !== 0)).toBe(true);
  });

  it('recovers k source symbols from k (or a few more) random survivors (property, seeded)', () => {
    const rng = new Prng(20);
    let extraTotal = 0;
    const trials = 60;
    for (let t = 0; t < trials; t++) {
      const k = rng.range(1, 120);
      const len = rng.range(1, 40);
      const source = Array.from({ length: k }, () => rng.bytes(len));
      const loss = rng.pick([0.1, 0.3, 0.5, 0.8]);
      const received = new Map<number, Uint8Array>();
      let decoded: Uint8Array[] | null = null;
      for (let index = 0; index < k * 20 && !decoded; index++) {
        if (rng.chance(loss)) continue;
        received.set(index, index < k ? source[index] : encodeRepair(source, index));
        if (received.size >= k) decoded = decodeSymbols(k, len, received);
      }
      expect(decoded).not.toBeNull();
      expect(decoded!.map((s) => Buffer.from(s).toString('hex'))).toEqual(source.map((s) => Buffer.from(s).toString('hex')));
      extraTotal += received.size - k;
    }
    // Random GF(256) matrices are singular with probability ~1/255: a handful of extras at most.
    expect(extraTotal).toBeLessThanOrEqual(3);
  });

  it('says "not yet" instead of guessing when too few symbols arrived', () => {
    const rng = new Prng(21);
    const source = Array.from({ length: 10 }, () => rng.bytes(8));
    const received = new Map<number, Uint8Array>([[0, source[0]], [11, encodeRepair(source, 11)]]);
    expect(decodeSymbols(10, 8, received)).toBeNull();
  });
});
