import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { headerHash80, sha256d80, digestWordsToBytes } from '../../src/chain/sha256d.js';
import { HASH_BATCH, HeaderBatchHasher } from '../../src/chain/sha256d-batch.js';
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

describe('HeaderBatchHasher', () => {
  it('matches @noble/hashes on every shared mainnet header, batch by batch', () => {
    const all = [...readHeaders(SHARED_DATA.genesisEraHeaders), ...readHeaders(SHARED_DATA.recentHeaders)];
    const hasher = new HeaderBatchHasher();
    for (let start = 0; start < all.length;) {
      const end = hasher.hash(all, start);
      expect(end).toBe(Math.min(all.length, start + HASH_BATCH));
      for (let i = start; i < end; i++) {
        const d = (i - start) * 32;
        expect(hasher.digests.subarray(d, d + 32)).toEqual(sha256(sha256(all[i])));
      }
      start = end;
    }
  });

  it('hashes random headers (subarrays at any offset) and stops before one that is not 80 bytes', () => {
    const hasher = new HeaderBatchHasher();
    const buf = new Uint8Array(randomBytes(80 * 10 + 3));
    const raws = Array.from({ length: 10 }, (_, i) => buf.subarray(3 + i * 80, 3 + (i + 1) * 80));
    raws.splice(7, 0, buf.subarray(0, 79));
    expect(hasher.hash(raws, 0)).toBe(7);
    for (let i = 0; i < 7; i++) expect(hasher.digests.subarray(i * 32, i * 32 + 32)).toEqual(sha256(sha256(raws[i])));
    expect(hasher.hash(raws, 7)).toBe(7);
    expect(hasher.hash(raws, 8)).toBe(11);
    for (let i = 8; i < 11; i++) expect(hasher.digests.subarray((i - 8) * 32, (i - 7) * 32)).toEqual(sha256(sha256(raws[i])));
    // The digests also read as words in platform order, as HeaderChain compares them.
    expect(hasher.digestWords[0]).toBe(new DataView(hasher.digests.buffer, hasher.digests.byteOffset).getUint32(0, true));
    // And the batch's headers as words in platform order (the chain stores and looks them up so).
    expect(hasher.inputWords[20 + 1]).toBe(new DataView(raws[9].buffer, raws[9].byteOffset).getUint32(4, true));
  });
});
