// A rescue that fails is tried again with backoff: 30 s after the first failure, doubling with
// each failure in a row, at most 30 min; the failed record says when the next try is and how
// many failed in a row; a retry is counted; the node catching up starts the count afresh. The
// rescue runs on a real header chain (regtest headers mined here) with an injected clock; it
// fails because its only block link is stopped (no block can be fetched within stallMs).
import { describe, expect, it } from 'vitest';
import { BlockStore } from '../../src/blocks/store.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { Rescue, RETRY_FIRST_MS, RETRY_MAX_MS, retryDelayMs, type RescueNodePeer } from '../../src/gateway/rescue.js';
import type { BlockLink } from '../../src/gateway/blockfetch.js';
import { readU32LE } from '../../src/util/bytes.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import { mineRun, newChain } from '../chain/helpers.js';

const STALL_MS = 1000;

function scene() {
  const g = NETWORKS.regtest.genesisHeader;
  const t0 = readU32LE(g, 68);
  const { chain } = newChain();
  const best = mineRun(g, 3, t0 + 600, 600, 0x207fffff, 1);
  const fork = mineRun(g, 1, t0 + 700, 600, 0x207fffff, 2); // the node's own (lesser) branch
  chain.addHeaders(best);
  chain.addHeaders(fork);
  const counters = new Counters();
  const log = memoryLogger();
  let now = 1_800_000_000_000;
  const link: BlockLink = {
    name: 'p2p0',
    state: 'stopped',
    capabilities: { direction: 'duplex', mtu: 4_000_000, bitrate: 0, dutyCycle: 1, carries: ['headers', 'blocks'], needsCallsign: false },
    requestBlock: () => false,
  };
  const peer: RescueNodePeer = { id: 'node', sendBlock: () => {}, requestHeaders: () => {} };
  const rescue = new Rescue({
    chain,
    log,
    counters,
    store: BlockStore.open({ log, counters }),
    links: () => [link],
    nodePeers: () => [peer],
    now: () => now,
    stallMs: STALL_MS,
  });
  rescue.onNodeHeaders(peer, fork); // the node's active tip: its own branch, less work than ours
  return {
    rescue,
    counters,
    log,
    advance(ms: number) {
      now += ms;
      rescue.tick();
    },
    now: () => now,
    nodeCaughtUp: () => rescue.onNodeHeaders(peer, best.slice(2)),
  };
}

describe('rescue retries', () => {
  it('waits 30 s after one failure, doubling per failure in a row, at most 30 min', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 100].map(retryDelayMs)).toEqual([
      30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_800_000, 1_800_000, 1_800_000,
    ]);
    expect(retryDelayMs(1)).toBe(RETRY_FIRST_MS);
    expect(retryDelayMs(1e9)).toBe(RETRY_MAX_MS);
  });

  it('says when the next try is, does not try before then, counts the retries, and resets when the node catches up', () => {
    const s = scene();
    expect(s.rescue.records()[0]).toMatchObject({ state: 'fetching', reason: 'no block-capable link is up (p2p or esplora)' });
    const waits: number[] = [];
    for (let failure = 1; failure <= 8; failure++) {
      s.advance(STALL_MS + 1);
      const failed = s.rescue.records()[0];
      expect(failed).toMatchObject({ id: failure, state: 'failed', failuresInARow: failure });
      const wait = Date.parse(failed.nextTryAt!) - s.now();
      waits.push(wait);
      expect(s.counters.get('rescue.failed')).toBe(failure);
      expect(s.counters.get('rescue.failures_in_a_row')).toBe(failure);
      // Not a moment before the wait is over...
      s.advance(wait - 1);
      expect(s.rescue.records()[0].id).toBe(failure);
      // ...then the next try starts, and the failed record no longer names a next try.
      s.advance(1);
      expect(s.rescue.records()[0]).toMatchObject({ id: failure + 1, state: 'fetching' });
      expect(s.rescue.records()[1].nextTryAt).toBeUndefined();
      expect(s.counters.get('rescue.retries')).toBe(failure);
    }
    expect(waits).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_800_000, 1_800_000]);
    expect(s.log.lines.join('\n')).toMatch(/rescue retried.*failedBefore=8/);

    // One more failure, then the node gets onto the better chain by itself: no next try is due.
    s.advance(STALL_MS + 1);
    expect(s.rescue.records()[0]).toMatchObject({ state: 'failed', failuresInARow: 9 });
    s.nodeCaughtUp();
    expect(s.rescue.records()[0].nextTryAt).toBeUndefined();
    expect(s.counters.get('rescue.failures_in_a_row')).toBe(0);
  });
});
