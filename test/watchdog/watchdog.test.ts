import { describe, expect, it } from 'vitest';
import { staleThresholdSeconds, Watchdog, type Anomaly, type AnomalyChange } from '../../src/watchdog/watchdog.js';
import { Counters } from '../../src/util/counters.js';
import { ConfigError } from '../../src/util/errors.js';
import { memoryLogger } from '../../src/util/log.js';

const T = 1_700_000_000;
const HASH = new Uint8Array(32).fill(0xab);

function setup(extra: { staleProbability?: number; moreWorkGraceSeconds?: number } = {}) {
  let now = T;
  const events: Array<[AnomalyChange, Anomaly]> = [];
  const log = memoryLogger();
  const counters = new Counters();
  const wd = new Watchdog({ log, counters, nowSeconds: () => now, onAnomaly: (a, c) => events.push([c, a]), ...extra });
  return { wd, log, counters, events, at: (t: number) => (now = t) };
}

describe('stale-tip threshold from the Poisson block process', () => {
  it('is -600 ln(p): about 92 minutes for 1e-4, configurable', () => {
    expect(staleThresholdSeconds(1e-4)).toBeCloseTo(5526.2, 1);
    expect(Math.exp(-staleThresholdSeconds(1e-4) / 600)).toBeCloseTo(1e-4, 12);
    expect(setup().wd.staleAfterSeconds).toBeCloseTo(5526.2, 1);
    expect(setup({ staleProbability: 1e-3 }).wd.staleAfterSeconds).toBeCloseTo(4144.7, 1);
  });

  it('refuses a probability outside (0, 1)', () => {
    for (const p of [0, 1, -1, 2, NaN]) expect(() => setup({ staleProbability: p })).toThrow(ConfigError);
  });
});

describe('Watchdog', () => {
  it('raises stale-tip once when the tip gets too old, keeps it active without repeats, clears on a new tip', () => {
    const { wd, log, counters, events, at } = setup();
    wd.observeNodeTip({ height: 100, hash: HASH, time: T, chainWork: 1000n });
    at(T + 5500);
    expect(wd.check()).toEqual([]);
    at(T + 5530);
    const raised = wd.check();
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ kind: 'stale-tip', key: 'stale-tip' });
    expect(raised[0].since).toBeCloseTo(T + 5526.2, 0);
    expect(raised[0].detail).toContain('height 100');
    for (const t of [T + 5531, T + 6000, T + 9000]) {
      at(t);
      expect(wd.check()).toEqual([]);
    }
    expect(wd.active()).toHaveLength(1);
    expect(log.lines.filter((l) => l.includes('anomaly') && l.includes('stale-tip'))).toHaveLength(1);
    expect(counters.get('raised.stale-tip')).toBe(1);
    expect(counters.get('active')).toBe(1);
    wd.observeNodeTip({ height: 101, hash: HASH, time: T + 8990, chainWork: 1001n });
    expect(wd.active()).toEqual([]);
    expect(events.map(([c, a]) => `${c}:${a.kind}`)).toEqual(['raised:stale-tip', 'cleared:stale-tip']);
    expect(counters.get('cleared.stale-tip')).toBe(1);
    expect(counters.get('active')).toBe(0);
  });

  it('raises stale-tip at once for a node whose tip is already old when first seen', () => {
    const { wd, at } = setup();
    at(T + 3 * 3600);
    expect(wd.observeNodeTip({ height: 5, hash: HASH, time: T, chainWork: 1n })).toHaveLength(1);
  });

  it('raises link-more-work after the grace period, per link, and clears when the node catches up', () => {
    const { wd, events, counters, at } = setup({ moreWorkGraceSeconds: 60 });
    wd.observeNodeTip({ height: 100, hash: HASH, time: T, chainWork: 1000n });
    expect(wd.observeLinkTip('lora0', { height: 101, chainWork: 1010n })).toEqual([]);
    wd.observeLinkTip('esplora', { height: 100, chainWork: 1000n });
    at(T + 59);
    expect(wd.check()).toEqual([]);
    at(T + 61);
    const raised = wd.check();
    expect(raised).toEqual([expect.objectContaining({ kind: 'link-more-work', key: 'link-more-work:lora0', link: 'lora0', since: T })]);
    at(T + 120);
    expect(wd.observeLinkTip('lora0', { height: 102, chainWork: 1020n })).toEqual([]);
    expect(wd.active()).toHaveLength(1);
    wd.observeNodeTip({ height: 102, hash: HASH, time: T + 110, chainWork: 1020n });
    expect(wd.active()).toEqual([]);
    expect(events.map(([c, a]) => `${c}:${a.key}`)).toEqual(['raised:link-more-work:lora0', 'cleared:link-more-work:lora0']);
    expect(counters.get('raised.link-more-work')).toBe(1);
  });

  it('restarts the grace period when a link falls back behind, and raises immediately with no grace', () => {
    const { wd, at } = setup({ moreWorkGraceSeconds: 60 });
    wd.observeNodeTip({ height: 100, hash: HASH, time: T, chainWork: 1000n });
    wd.observeLinkTip('a', { height: 101, chainWork: 1010n });
    at(T + 50);
    wd.observeLinkTip('a', { height: 99, chainWork: 990n });
    wd.observeLinkTip('a', { height: 101, chainWork: 1010n });
    at(T + 70);
    expect(wd.check()).toEqual([]);
    const now = setup({ moreWorkGraceSeconds: 0 });
    now.wd.observeNodeTip({ height: 100, hash: HASH, time: T, chainWork: 1000n });
    expect(now.wd.observeLinkTip('b', { height: 101, chainWork: 1010n })).toHaveLength(1);
    now.wd.forgetLink('b');
    expect(now.wd.active()).toEqual([]);
  });

  it('checks on its own unref-ed timer once started, and stops', async () => {
    const { wd, at } = setup();
    wd.observeNodeTip({ height: 1, hash: HASH, time: T, chainWork: 1n });
    wd.start(5);
    at(T + 10_000);
    for (let i = 0; i < 100 && wd.active().length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    wd.stop();
    expect(wd.active().map((a) => a.kind)).toEqual(['stale-tip']);
  });
});

describe('link-silent: a beacon link that hears nothing', () => {
  it('raises after the silence threshold, once, and clears as soon as a frame is heard', () => {
    const { wd, counters, events, at } = setup();
    wd.watchSilence('lora0', 1800, 600);
    at(T + 1800);
    expect(wd.check()).toEqual([]);
    at(T + 1801);
    const raised = wd.check();
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ kind: 'link-silent', key: 'link-silent:lora0', link: 'lora0', since: T + 1800 });
    expect(raised[0].detail).toMatch(/link lora0 has heard no frame for 30 min .* every 10 min/);
    at(T + 4000);
    expect(wd.check()).toEqual([]);
    expect(counters.get('raised.link-silent')).toBe(1);
    wd.observeLinkHeard('lora0');
    expect(wd.active()).toEqual([]);
    expect(events.map(([c, a]) => `${c}:${a.key}`)).toEqual(['raised:link-silent:lora0', 'cleared:link-silent:lora0']);
    // Frames keep coming: nothing again.
    at(T + 5000);
    wd.observeLinkHeard('lora0');
    at(T + 6000);
    expect(wd.check()).toEqual([]);
  });

  it('frames on an unwatched link change nothing; forgetting a silent link clears its anomaly', () => {
    const { wd, events, at } = setup();
    expect(wd.observeLinkHeard('other')).toEqual([]);
    wd.watchSilence('kiss0', 60, 20);
    at(T + 61);
    wd.check();
    expect(wd.active().map((a) => a.key)).toEqual(['link-silent:kiss0']);
    wd.forgetLink('kiss0');
    expect(wd.active()).toEqual([]);
    expect(events.map(([c]) => c)).toEqual(['raised', 'cleared']);
    expect(() => wd.watchSilence('x', 0, 1)).toThrow(ConfigError);
  });
});

describe("peers-disagree: the node's own peers against the links", () => {
  const view = { otherPeers: 3, peersBestHeight: 100, nodeHeight: 100, chainHeight: 103, chainAhead: true };

  it("raises after the grace period when no other peer has shown the node the links' better chain, clears when one has", () => {
    const { wd, events, at } = setup();
    wd.observePeerView(view);
    at(T + 59);
    expect(wd.observePeerView(view)).toEqual([]);
    at(T + 60);
    const raised = wd.observePeerView(view);
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ kind: 'peers-disagree', key: 'peers-disagree', since: T });
    expect(raised[0].detail).toContain("height 103 with more work than the node's (height 100)");
    expect(raised[0].detail).toContain("none of the node's 3 other peer(s) has shown it headers beyond height 100");
    at(T + 100);
    expect(wd.observePeerView(view)).toEqual([]);
    wd.observePeerView({ ...view, peersBestHeight: 103 });
    expect(wd.active()).toEqual([]);
    expect(events.map(([c, a]) => `${c}:${a.kind}`)).toEqual(['raised:peers-disagree', 'cleared:peers-disagree']);
  });

  it('says nothing when the links are not ahead, or the node has no other peer to disagree', () => {
    const { wd, at } = setup();
    wd.observePeerView({ ...view, chainAhead: false });
    wd.observePeerView({ ...view, otherPeers: 0, peersBestHeight: -1 });
    at(T + 1000);
    wd.observePeerView({ ...view, otherPeers: 0, peersBestHeight: -1 });
    expect(wd.active()).toEqual([]);
    // A disagreement that stops inside the grace period starts its clock again next time.
    wd.observePeerView(view);
    at(T + 1030);
    wd.observePeerView({ ...view, chainAhead: false });
    at(T + 1040);
    wd.observePeerView(view);
    at(T + 1090);
    expect(wd.observePeerView(view)).toEqual([]);
  });
});
