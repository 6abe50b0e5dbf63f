import { describe, expect, it } from 'vitest';
import { NETWORKS } from '../../src/chain/networks.js';
import { headerHash80 } from '../../src/chain/sha256d.js';
import { HASH_BATCH } from '../../src/chain/sha256d-batch.js';
import { readU32LE, writeU32LE, hashToHex } from '../../src/util/bytes.js';
import { SHARED_DATA } from '../harness/data.js';
import { mine, mineRun, newChain, readHeaders } from './helpers.js';

const recent = readHeaders(SHARED_DATA.recentHeaders);
const genesisEra = readHeaders(SHARED_DATA.genesisEraHeaders);
const NOW = 1_800_000_000;

const mainnetFromCheckpoint = (nowSeconds = () => NOW) => newChain(NETWORKS.main, { nowSeconds });

function tweak(raw: Uint8Array, f: (b: Uint8Array) => void): Uint8Array {
  const b = Uint8Array.from(raw);
  f(b);
  return b;
}

describe('HeaderChain on real mainnet headers', () => {
  it('validates the 8,065 headers after the 822527 checkpoint and reproduces the published chainwork', () => {
    const { chain, counters } = mainnetFromCheckpoint();
    expect(chain.tip().height).toBe(822527);
    expect(chain.tip().chainWork).toBe(SHARED_DATA.workBeforeRecent);
    const r = chain.addHeaders(recent);
    expect(r.rejected).toBeUndefined();
    expect(r).toMatchObject({ accepted: 8065, duplicates: 0, tipChanged: true });
    const tip = chain.tip();
    expect(tip.height).toBe(830592);
    expect(tip.chainWork).toBe(SHARED_DATA.workAfterRecent);
    expect(tip.header).toEqual(recent[recent.length - 1]);
    expect(counters.get('accepted')).toBe(8065);
    expect(counters.get('height')).toBe(830592);
  });

  it('validates the same headers in peer-sized batches, and counts re-sent ones as duplicates', () => {
    const { chain } = mainnetFromCheckpoint();
    for (let i = 0; i < recent.length; i += 2000) {
      const r = chain.addHeaders(recent.slice(i, i + 2000));
      expect(r.rejected).toBeUndefined();
    }
    expect(chain.tip().chainWork).toBe(SHARED_DATA.workAfterRecent);
    const again = chain.addHeaders(recent.slice(100, 200));
    expect(again).toMatchObject({ accepted: 0, duplicates: 100, tipChanged: false });
  });

  it('grows its arena by doubling while small, and not at all for a batch of known headers', () => {
    const { chain } = newChain(NETWORKS.main, { nowSeconds: () => NOW, initialCapacity: 1000 });
    expect(chain.memoryUsage().capacity).toBe(1000);
    expect(chain.addHeaders(recent.slice(0, 990)).accepted).toBe(990);
    expect(chain.memoryUsage().capacity).toBe(1000);
    // A link repeating a batch another delivered: all duplicates, no room made for them (issue 18:
    // reserving for the whole batch grew a full arena).
    expect(chain.addHeaders(recent.slice(0, 990))).toMatchObject({ accepted: 0, duplicates: 990 });
    expect(chain.memoryUsage().capacity).toBe(1000);
    expect(chain.addHeaders(recent.slice(990, 1100)).accepted).toBe(110);
    expect(chain.memoryUsage().capacity).toBe(2000);
    expect(chain.addHeaders(recent.slice(1100, 5000)).accepted).toBe(3900);
    expect(chain.memoryUsage().capacity).toBe(5001); // at least what the batch needs
    // A batch whose last header is known but earlier ones are new still goes in, one slot at a time.
    const { chain: other } = newChain(NETWORKS.main, { nowSeconds: () => NOW, initialCapacity: 16 });
    expect(other.addHeaders(recent.slice(40, 41)).rejected?.code).toBe('prev-not-found');
    expect(other.addHeaders(recent.slice(0, 10)).accepted).toBe(10);
    expect(other.addHeaders([...recent.slice(10, 30), recent[5]])).toMatchObject({ accepted: 20, duplicates: 1 });
    expect(other.memoryUsage()).toMatchObject({ headers: 31, capacity: 32 });
    expect(other.tip().height).toBe(822527 + 30);
  });

  it('grows a large arena by a quarter, not doubling (issue 18)', () => {
    const { chain } = newChain(NETWORKS.regtest, { initialCapacity: 16_384 });
    const run = mineRun(NETWORKS.regtest.genesisHeader, 16_400, 1_700_000_000, 600, 0x207fffff);
    for (let i = 0; i < run.length; i += 2000) expect(chain.addHeaders(run.slice(i, i + 2000)).rejected).toBeUndefined();
    expect(chain.memoryUsage()).toMatchObject({ headers: 16_401, capacity: 20_480 });
  });

  it('validates the first 10,000 mainnet headers from genesis, across four retargets', () => {
    const { chain } = newChain(NETWORKS.main, { checkpoint: null, nowSeconds: () => NOW });
    expect(hashToHex(chain.tip().hash)).toBe('000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f');
    const r = chain.addHeaders(genesisEra.slice(1));
    expect(r.rejected).toBeUndefined();
    expect(r.accepted).toBe(9999);
    expect(chain.tip().height).toBe(9999);
    // Every block of the era is at difficulty 1: 0x100010001 hashes each.
    expect(chain.tip().chainWork).toBe(10000n * 0x100010001n);
  });

  it('rejects a flipped nonce bit as bad-pow and keeps the headers before it', () => {
    const { chain, counters } = mainnetFromCheckpoint();
    const batch = recent.slice(0, 10);
    batch[6] = tweak(batch[6], (b) => (b[76] ^= 1));
    const r = chain.addHeaders(batch);
    expect(r.rejected).toMatchObject({ index: 6, code: 'bad-pow' });
    expect(r.accepted).toBe(6);
    expect(chain.tip().height).toBe(822528 + 5);
    expect(counters.get('rejected.bad-pow')).toBe(1);
  });

  it('rejects a wrong nBits at a retarget height (824544) and off it', () => {
    const { chain } = mainnetFromCheckpoint();
    expect(chain.addHeaders(recent.slice(0, 2016)).rejected).toBeUndefined();
    const atRetarget = tweak(recent[2016], (b) => writeU32LE(b, 72, readU32LE(recent[2015], 72)));
    expect(chain.addHeaders([atRetarget]).rejected?.code).toBe('bad-diffbits');
    expect(chain.addHeaders(recent.slice(2016, 2020)).accepted).toBe(4);
    const offRetarget = tweak(recent[2020], (b) => writeU32LE(b, 72, 0x1703e8b3));
    expect(chain.addHeaders([offRetarget]).rejected?.code).toBe('bad-diffbits');
  });

  it('rejects a first header whose nBits differ from what the checkpoint requires', () => {
    const { chain } = mainnetFromCheckpoint();
    const first = tweak(recent[0], (b) => writeU32LE(b, 72, 0x1703d869));
    expect(chain.addHeaders([first]).rejected?.code).toBe('bad-diffbits');
  });

  it('rejects a time at or below the median of the last 11 as time-too-old', () => {
    const { chain } = mainnetFromCheckpoint();
    expect(chain.addHeaders(recent.slice(0, 100)).rejected).toBeUndefined();
    const times = recent
      .slice(89, 100)
      .map((h) => readU32LE(h, 68))
      .sort((a, b) => a - b);
    const mtp = times[5];
    const atMtp = tweak(recent[100], (b) => writeU32LE(b, 68, mtp));
    expect(chain.addHeaders([atMtp]).rejected?.code).toBe('time-too-old');
    const justAbove = tweak(recent[100], (b) => writeU32LE(b, 68, mtp + 1));
    // One second above the median passes the time rule; the changed hash then fails PoW.
    expect(chain.addHeaders([justAbove]).rejected?.code).toBe('bad-pow');
  });

  it('rejects a header more than 2 hours ahead of the injected clock as time-too-new', () => {
    let now = readU32LE(recent[0], 68) - 7201;
    const { chain } = mainnetFromCheckpoint(() => now);
    expect(chain.addHeaders([recent[0]]).rejected?.code).toBe('time-too-new');
    now += 1;
    expect(chain.addHeaders([recent[0]]).accepted).toBe(1);
  });

  it('rejects a header that does not connect as prev-not-found', () => {
    const { chain } = mainnetFromCheckpoint();
    const r = chain.addHeaders([recent[0], recent[2]]);
    expect(r.accepted).toBe(1);
    expect(r.rejected).toMatchObject({ index: 1, code: 'prev-not-found' });
    expect(chain.addHeaders([new Uint8Array(81)]).rejected?.code).toBe('bad-header-size');
  });

  it('keeps the headers before one of the wrong size, also past the first hash batch', () => {
    const { chain } = mainnetFromCheckpoint();
    const at = HASH_BATCH + 5;
    const r = chain.addHeaders([...recent.slice(0, at), recent[at].subarray(0, 79), ...recent.slice(at, at + 3)]);
    expect(r).toMatchObject({ accepted: at, rejected: { index: at, code: 'bad-header-size' } });
    expect(chain.tip().hash).toEqual(headerHash80(recent[at - 1]));
    expect(chain.addHeaders(recent.slice(at - 2, at + 3))).toMatchObject({ accepted: 3, duplicates: 2 });
  });

  it('verifies a header against its parent without adding it', () => {
    const { chain } = mainnetFromCheckpoint();
    expect(chain.verify(recent[0])).toMatchObject({ ok: true, height: 822528 });
    expect(chain.tip().height).toBe(822527);
    expect(chain.verify(recent[1])).toMatchObject({ ok: false, code: 'prev-not-found' });
    expect(chain.verify(tweak(recent[0], (b) => (b[76] ^= 4)))).toMatchObject({ ok: false, code: 'bad-pow' });
  });

  it('answers getheaders from a locator and builds a Core-style locator', () => {
    const { chain } = mainnetFromCheckpoint();
    chain.addHeaders(recent);
    const loc = chain.locator();
    expect(loc[0]).toEqual(chain.tip().hash);
    expect(loc.slice(0, 11).map((h) => chain.getByHash(h)!.height)).toEqual(Array.from({ length: 11 }, (_, i) => 830592 - i));
    expect(chain.getByHash(loc[11])!.height).toBe(830592 - 11);
    expect(chain.getByHash(loc[12])!.height).toBe(830592 - 13);
    expect(loc.at(-1)).toEqual(NETWORKS.main.checkpoints[0].hash);
    // A peer at 822600 asking with its own locator gets the next 2000.
    const peerLocator = [headerHash80(recent[72]), headerHash80(recent[50])];
    const got = chain.headersAfter(peerLocator);
    expect(got.length).toBe(2000);
    expect(got[0]).toEqual(recent[73]);
    expect(got).toEqual(recent.slice(73, 2073));
    // Views of one buffer, not 2000 arrays of 80 bytes each outside V8's heap (issue 18).
    expect(new Set(got.map((h) => h.buffer)).size).toBe(1);
    // Stop hash ends the answer; unknown locators fall back to the root.
    expect(chain.headersAfter([new Uint8Array(32).fill(7)], headerHash80(recent[4]))).toEqual(recent.slice(0, 5));
    expect(chain.headersAfter([], headerHash80(recent[9]))).toEqual([recent[9]]);
    expect(chain.headersAfter([headerHash80(recent[8060])])).toEqual(recent.slice(8061));
    expect(chain.getByHeight(824544)!.header).toEqual(recent[2016]);
    expect(chain.workOf(headerHash80(recent[8064]))).toBe(SHARED_DATA.workAfterRecent);
    expect(chain.has(headerHash80(recent[17]))).toBe(true);
    expect(chain.getByHeight(822527)!.header).toBeNull();
  });
});

describe('HeaderChain best chain and reorgs (regtest)', () => {
  const g = NETWORKS.regtest.genesisHeader;
  const t0 = readU32LE(g, 68);
  const B = 0x207fffff;

  it('switches to a side branch with more work and reports the fork point', () => {
    const { chain, counters } = newChain();
    const a = mineRun(g, 5, t0 + 600, 600, B, 1);
    expect(chain.addHeaders(a)).toMatchObject({ accepted: 5, tipChanged: true });
    expect(chain.addHeaders(a).reorg).toBeUndefined();
    // Same work as the tip: first seen stays best.
    const b = mineRun(a[1], 3, t0 + 2000, 600, B, 2);
    const r1 = chain.addHeaders(b);
    expect(r1).toMatchObject({ accepted: 3, tipChanged: false });
    expect(r1.reorg).toBeUndefined();
    expect(chain.tip().hash).toEqual(headerHash80(a[4]));
    expect(chain.sideHeaders).toBe(3);
    const more = mine(b[2], t0 + 4000, B, { salt: 2 });
    const r2 = chain.addHeaders([more]);
    expect(r2).toMatchObject({ accepted: 1, tipChanged: true, reorg: { forkHeight: 2, disconnected: 3 } });
    expect(chain.tip().height).toBe(6);
    expect(chain.getByHeight(3)!.hash).toEqual(headerHash80(b[0]));
    expect(chain.getByHash(headerHash80(a[2]))!.inBestChain).toBe(false);
    expect(chain.sideHeaders).toBe(3);
    expect(counters.get('reorgs')).toBe(1);
    expect(chain.tip().chainWork).toBe(7n * 2n);
  });

  it('caps side branches, evicting the least-work leaf and counting drops', () => {
    const { chain, counters } = newChain(NETWORKS.regtest, { maxSideHeaders: 3 });
    const main = mineRun(g, 6, t0 + 600, 600, B, 1);
    chain.addHeaders(main);
    // Three one-header forks fill the cap.
    for (let s = 0; s < 3; s++) expect(chain.addHeaders([mine(main[s], t0 + 5000 + s, B, { salt: 10 + s })]).accepted).toBe(1);
    expect(chain.sideHeaders).toBe(3);
    // A fourth with no more work than any of them is dropped.
    const r = chain.addHeaders([mine(main[0], t0 + 9000, B, { salt: 99 })]);
    expect(r.rejected?.code).toBe('side-branch-full');
    expect(chain.sideHeaders).toBe(3);
    // A deeper fork leaf with more work evicts the weakest existing leaf.
    const r2 = chain.addHeaders([mine(main[4], t0 + 9100, B, { salt: 50 })]);
    expect(r2.accepted).toBe(1);
    expect(chain.sideHeaders).toBe(3);
    expect(counters.get('side-evicted')).toBe(2);
    expect(counters.get('rejected.side-branch-full')).toBe(1);
  });

  it('uses the regtest rule: no retarget, min difficulty', () => {
    const { chain } = newChain();
    const wrong = mine(g, t0 + 600, 0x2000ffff);
    expect(chain.addHeaders([wrong]).rejected?.code).toBe('bad-diffbits');
  });
});

describe('HeaderChain testnet rules (testnet4 rules on an easy pow limit)', () => {
  // testnet4's rules with regtest's pow limit, so headers can be mined in a test.
  const easyGenesis = mine(new Uint8Array(80), 1714777860, 0x207fffff);
  const params = {
    ...NETWORKS.testnet4,
    powLimit: NETWORKS.regtest.powLimit,
    genesisHeader: easyGenesis,
  };
  const t0 = readU32LE(easyGenesis, 68);
  const LIMIT = 0x207fffff;

  it('retargets from the first block (BIP94), then applies the 20-minute rule and the walk-back', () => {
    const { chain } = newChain(params, { nowSeconds: () => t0 + 10_000_000 });
    // 2015 fast blocks (60 s apart): the retarget at 2016 clamps to a quarter of the timespan.
    const period = mineRun(easyGenesis, 2015, t0 + 60, 60, LIMIT);
    expect(chain.addHeaders(period).rejected).toBeUndefined();
    const last = period[2014];
    const lastTime = readU32LE(last, 68);
    expect(chain.addHeaders([mine(last, lastTime + 60, LIMIT)]).rejected?.code).toBe('bad-diffbits');
    const hard = 0x201fffff; // pow limit / 4
    const h2016 = mine(last, lastTime + 60, hard);
    expect(chain.addHeaders([h2016]).rejected).toBeUndefined();
    // More than 20 minutes later: minimum difficulty is allowed.
    const h2017 = mine(h2016, lastTime + 60 + 1201, LIMIT);
    expect(chain.addHeaders([h2017]).rejected).toBeUndefined();
    // Next one on time: the walk-back skips the min-difficulty block and requires 2016's nBits.
    const t = lastTime + 60 + 1201 + 60;
    expect(chain.addHeaders([mine(h2017, t, LIMIT)]).rejected?.code).toBe('bad-diffbits');
    expect(chain.addHeaders([mine(h2017, t, hard)]).rejected).toBeUndefined();
  });
});
