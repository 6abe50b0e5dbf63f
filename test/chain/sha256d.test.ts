import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { headerHash80, sha256d80, digestWordsToBytes } from '../../src/chain/sha256d.js';
import { SHARED_DATA } from '../harness/data.js';
import { readHeaders } from './helpers.js';

describe('sha256d80', () => {
  it('matches @noble/hashes on every shared mainnet header', () => {
    const all = [...readHeaders(SHARED_DATA.genesisEraHeaders), ...readHeaders(SHARED_DATA.recentHeaders)];
    expect(all.length).toBe(18065);
    for (const h of all) expect(headerHash80(h)).toEqual(sha256(sha256(h)));
  });

  it('matches @noble/hashes on random input at an offset inside a larger buffer', () => {
    const words = new Int32Array(8);
    const out = new Uint8Array(32);
    for (let i = 0; i < 200; i++) {
      const buf = new Uint8Array(randomBytes(300));
      const off = i % 200;
      sha256d80(buf, off, words);
      digestWordsToBytes(words, out);
      expect(out).toEqual(sha256(sha256(buf.subarray(off, off + 80))));
    }
  });
});
