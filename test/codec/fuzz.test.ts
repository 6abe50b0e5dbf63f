// A short fuzz run per decoder (the bench runs a million per decoder).
import { describe, expect, it } from 'vitest';
import { fuzz, fuzzTargets } from './fuzz.js';

describe('codec decoders under random and mutated input', () => {
  for (const target of fuzzTargets()) {
    it(`${target.name}: only typed errors, never a crash`, () => {
      const r = fuzz(target, 20_000, 99);
      expect(r.crashSamples).toEqual([]);
      expect(r.crashes).toBe(0);
      expect(r.typedErrors).toBeGreaterThan(0);
    });
  }
});
