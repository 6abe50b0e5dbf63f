// KnownHeights on its own: anchors are exact, learned heights are bounded hints keyed by a hash's
// first 4 bytes (a key two hashes can share; SourceLink checks every hint with the source).
import { describe, expect, it } from 'vitest';
import { headerHash } from '../../../src/chain/header.js';
import { NETWORKS } from '../../../src/chain/networks.js';
import { KnownHeights } from '../../../src/links/source/heights.js';

function hash(seed: number, tail = 0): Uint8Array {
  const h = new Uint8Array(32);
  new DataView(h.buffer).setUint32(0, seed, true);
  h[31] = tail;
  return h;
}

describe('KnownHeights', () => {
  it('knows genesis and the checkpoints exactly, without learning', () => {
    const k = new KnownHeights(NETWORKS.main);
    expect(k.anchor(headerHash(NETWORKS.main.genesisHeader))).toBe(0);
    const genesisLike = headerHash(NETWORKS.main.genesisHeader).slice();
    genesisLike[31] ^= 1;
    expect(k.anchor(genesisLike)).toBeUndefined();
    expect(k.heightOf(headerHash(NETWORKS.main.genesisHeader))).toBe(0);
  });

  it('remembers, forgets and drops the oldest past 20,000 learned heights', () => {
    const k = new KnownHeights(NETWORKS.main);
    for (let i = 0; i < 20_001; i++) k.remember(1000 + i, hash(i));
    expect(k.learnedHeight(hash(0))).toBeUndefined();
    expect(k.learnedHeight(hash(1))).toBe(1001);
    expect(k.learnedHeight(hash(20_000))).toBe(21_000);
    k.forget(hash(1));
    expect(k.learnedHeight(hash(1))).toBeUndefined();
    expect(k.learnedHeight(new Uint8Array(31))).toBeUndefined();
  });

  it('a learned height is a hint: hashes sharing their first 4 bytes share it (the later one wins)', () => {
    const k = new KnownHeights(NETWORKS.main);
    k.remember(10, hash(7, 1));
    k.remember(20, hash(7, 2));
    expect(k.learnedHeight(hash(7, 1))).toBe(20);
    expect(k.learnedHeight(hash(8, 1))).toBeUndefined();
  });
});
