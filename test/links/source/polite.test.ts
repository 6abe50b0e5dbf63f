// The politeness policy on its own (pure: a clock and random numbers passed in): the poll
// interval, the random delay after a new block, full-jitter backoff reset by an answer, and the
// prompt-request budget while backing off.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BACKOFF_MAX_MS,
  describeNextPoll,
  MIN_RETRY_MS,
  PolitePolicy,
  PROMPT_BURST,
  PROMPT_EVERY_MS,
  RETRY_BASE_MS,
} from '../../../src/links/source/polite.js';

function policy(o: { pollMs?: number; jitter?: number; blockDelayMs?: number; r?: number[] } = {}) {
  let now = 0;
  const rs = o.r ?? [0.5];
  let i = 0;
  const p = new PolitePolicy({
    pollMs: o.pollMs ?? 120_000,
    pollJitter: o.jitter ?? 0,
    blockDelayMs: o.blockDelayMs,
    nowMs: () => now,
    random: () => rs[Math.min(i++, rs.length - 1)],
  });
  return { p, advance: (ms: number) => (now += ms) };
}

describe('PolitePolicy', () => {
  it('an answer puts the next poll an interval away, spread by the jitter as random() says', () => {
    expect(policy({ jitter: 0.5, r: [0] }).p.succeeded()).toEqual({ delayMs: 90_000, why: 'interval' });
    expect(policy({ jitter: 0.5, r: [0.5] }).p.succeeded()).toEqual({ delayMs: 120_000, why: 'interval' });
    expect(policy({ jitter: 0.5, r: [0.999] }).p.succeeded()).toEqual({ delayMs: 149_940, why: 'interval' });
  });

  it('failures draw from a window that doubles up to the cap (full jitter); an answer resets it', () => {
    const { p } = policy({ r: [0.999] });
    const delays = Array.from({ length: 6 }, () => p.failed());
    expect(delays.map((d) => d.why)).toEqual(Array(6).fill('backoff'));
    // windows 1, 2, 4, 8, 16 min (base: the smaller of poll and 30 s), then the 30 min cap
    expect(delays.map((d) => d.delayMs)).toEqual([59_940, 119_880, 239_760, 479_520, 959_040, 1_798_200]);
    expect(p.backoffWindowMs()).toBe(DEFAULT_BACKOFF_MAX_MS);
    expect(p.failures).toBe(6);
    expect(p.succeeded()).toEqual({ delayMs: 120_000, why: 'interval' });
    expect(p.failures).toBe(0);
    expect(p.failed().delayMs).toBe(59_940);
  });

  it('full jitter may draw 0: the wait is still at least MIN_RETRY_MS; the base is the smaller of poll and RETRY_BASE_MS', () => {
    expect(policy({ r: [0] }).p.failed().delayMs).toBe(MIN_RETRY_MS);
    expect(policy({ pollMs: 0, r: [0.5] }).p.failed().delayMs).toBe(RETRY_BASE_MS); // half of 2 x 30 s
    expect(policy({ pollMs: 10_000, r: [0.5] }).p.failed().delayMs).toBe(10_000); // half of 2 x 10 s
  });

  it('a new block from another link: the next poll within 0..blockDelay, uniformly as random() says', () => {
    expect(policy({ r: [0] }).p.newBlock(undefined)).toEqual({ delayMs: 0, why: 'new-block' });
    expect(policy({ r: [0.4] }).p.newBlock(120_000)).toEqual({ delayMs: 60_000, why: 'new-block' });
    expect(policy({ r: [0.999] }).p.newBlock(undefined)).toEqual({ delayMs: 149_850, why: 'new-block' });
    expect(policy({ r: [0.5], blockDelayMs: 10_000 }).p.newBlock(undefined)).toEqual({ delayMs: 5_000, why: 'new-block' });
  });

  it('a new block keeps a poll due sooner, never shortens a backoff, and does nothing for a link that does not poll', () => {
    expect(policy({ r: [0.4] }).p.newBlock(30_000)).toBeNull();
    const { p } = policy({ r: [0.4] });
    p.failed();
    expect(p.newBlock(900_000)).toBeNull();
    expect(policy({ pollMs: 0 }).p.newBlock(undefined)).toBeNull();
  });

  it('prompt requests go out at once while the source answers; while it backs off only a few, then one per PROMPT_EVERY_MS', () => {
    const { p, advance } = policy();
    for (let i = 0; i < 50; i++) expect(p.admitPrompt()).toBe(true);
    p.failed();
    const first = Array.from({ length: 10 }, () => p.admitPrompt());
    expect(first.filter(Boolean)).toHaveLength(PROMPT_BURST);
    advance(PROMPT_EVERY_MS - 1);
    expect(p.admitPrompt()).toBe(false);
    advance(1);
    expect(p.admitPrompt()).toBe(true);
    expect(p.admitPrompt()).toBe(false);
    // A long quiet time earns no more than the burst.
    advance(100 * PROMPT_EVERY_MS);
    expect(Array.from({ length: 10 }, () => p.admitPrompt()).filter(Boolean)).toHaveLength(PROMPT_BURST);
    p.succeeded();
    expect(p.admitPrompt()).toBe(true);
  });

  it('describes the next poll for status', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(describeNextPoll({ nextAt: '2026-01-01T00:03:00Z', why: 'backoff', failures: 3 }, now)).toBe(
      'next poll in 3 min (backing off after 3 failure(s) in a row)',
    );
    expect(describeNextPoll({ nextAt: '2026-01-01T00:00:42Z', why: 'new-block', failures: 0 }, now)).toBe(
      'next poll in 42 s (random delay after a new block)',
    );
    expect(describeNextPoll({ failures: 0 }, now)).toBe('no poll pending');
  });
});
