// The shared part of the header-source links (src/links/source/): run validation, the rate
// limiter and the deadline helper. The per-protocol tests exercise the rest against real servers.
import { describe, expect, it } from 'vitest';
import { checkHeaderRun, RateLimiter, SourceTimeoutError, withTimeout } from '../../../src/links/source/index.js';
import { NETWORKS } from '../../../src/chain/networks.js';
import { breakPow, servedChain } from '../../servers/chain.js';
import { manualTimers } from '../../servers/context.js';

const chain = servedChain();
const powLimit = NETWORKS.main.powLimit;

describe('header run validation', () => {
  it('accepts the whole real run from the checkpoint and returns its hashes', () => {
    const r = checkHeaderRun(chain.headers, chain.parentHash, powLimit);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.hashes.at(-1)).toEqual(chain.hashes.at(-1));
  });

  it('names the first broken header and why', () => {
    const bad = chain.headers.slice(0, 20);
    bad[7] = breakPow(bad[7]);
    expect(checkHeaderRun(bad, chain.parentHash, powLimit)).toMatchObject({ ok: false, kind: 'bad-pow', index: 7 });
    const gap = [...chain.headers.slice(0, 5), ...chain.headers.slice(6, 10)];
    expect(checkHeaderRun(gap, chain.parentHash, powLimit)).toMatchObject({ ok: false, kind: 'disconnected', index: 5 });
    expect(checkHeaderRun(chain.headers.slice(1, 3), chain.parentHash, powLimit)).toMatchObject({ ok: false, index: 0 });
    expect(checkHeaderRun([chain.headers[0].slice(0, 79)], chain.parentHash, powLimit)).toMatchObject({ ok: false, index: 0 });
  });

  it('refuses a header whose target is easier than the network allows', () => {
    // Regtest-easy headers claim a target above mainnet's pow limit.
    const r = checkHeaderRun([NETWORKS.regtest.genesisHeader], new Uint8Array(32), powLimit);
    expect(r).toMatchObject({ ok: false, kind: 'bad-pow' });
  });
});

describe('rate limiter', () => {
  it('lets a burst through, then one request per interval', async () => {
    const timers = manualTimers();
    const rl = new RateLimiter(2, 2, timers);
    let passed = 0;
    const take = () => rl.take().then(() => passed++);
    await Promise.all([take(), take()]);
    expect(passed).toBe(2);
    const third = take();
    await Promise.resolve();
    expect(passed).toBe(2);
    expect(timers.pending()).toEqual([500]);
    timers.advance(500);
    timers.fire();
    await third;
    expect(passed).toBe(3);
  });

  it('is unlimited at rate 0 and releases waiters on drain', async () => {
    const timers = manualTimers();
    await Promise.all(Array.from({ length: 100 }, () => new RateLimiter(0, 1, timers).take()));
    const rl = new RateLimiter(1, 1, timers);
    await rl.take();
    const waiting = rl.take();
    rl.drain();
    await waiting;
    expect(timers.pending()).toEqual([]);
  });
});

describe('deadlines', () => {
  it('rejects with a typed timeout and cancels the operation when the timer fires', async () => {
    const timers = manualTimers();
    let cancelled = false;
    const p = withTimeout(
      timers,
      1234,
      'thing',
      () => new Promise<never>(() => {}),
      () => (cancelled = true),
    );
    timers.fire();
    await expect(p).rejects.toBeInstanceOf(SourceTimeoutError);
    expect(cancelled).toBe(true);
  });

  it('clears its timer when the operation finishes first', async () => {
    const timers = manualTimers();
    await expect(withTimeout(timers, 1234, 'thing', async () => 7)).resolves.toBe(7);
    expect(timers.pending()).toEqual([]);
  });
});
