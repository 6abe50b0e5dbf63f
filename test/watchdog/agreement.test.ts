// Agreement in the watchdog: of the independent sources (distinct servers; a radio is its own)
// that reported a tip, how many report one with the best known chain's work. It goes into the
// anomaly record (and, for chain anomalies, its text) and never gates anything.
import { describe, expect, it } from 'vitest';
import { describeAgreement, Watchdog, type Anomaly } from '../../src/watchdog/watchdog.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';

const T = 1_700_000_000;
const h = (n: number) => new Uint8Array(32).fill(n);

/** A chain we hold: heights 98..100 (hash byte = height), work 10 per block; best at 100. */
function setup(originOf?: (link: string) => string) {
  let now = T;
  const held = new Map<number, bigint>([
    [98, 980n],
    [99, 990n],
    [100, 1000n],
  ]);
  let best = { height: 100, chainWork: 1000n };
  const raised: Anomaly[] = [];
  const wd = new Watchdog({
    log: memoryLogger(),
    counters: new Counters(),
    nowSeconds: () => now,
    moreWorkGraceSeconds: 0,
    onAnomaly: (a, c) => c === 'raised' && raised.push(a),
    chain: { best: () => best, workOf: (hash) => held.get(hash[0]) },
    originOf,
  });
  return {
    wd,
    raised,
    at: (t: number) => (now = t),
    extend: () => {
      held.set(101, 1010n);
      best = { height: 101, chainWork: 1010n };
    },
  };
}

describe('watchdog agreement', () => {
  it('two sources at the best tip and one lagging: 2 of 3, in agreement() and in a raised anomaly', () => {
    const { wd, raised, at } = setup();
    wd.observeLinkTip('esplora-a', { height: 100, chainWork: 1000n, hash: h(100) });
    wd.observeLinkTip('esplora-b', { height: 100, chainWork: 1000n, hash: h(100) });
    wd.observeLinkTip('dns', { height: 98, chainWork: 980n, hash: h(98) });
    const a = wd.agreement();
    expect([a.agreeing, a.sources]).toEqual([2, 3]);
    expect(a.standings.find((s) => s.origin === 'dns')).toMatchObject({ standing: 'behind', height: 98 });
    expect(describeAgreement(a)).toBe('2 of 3 independent source(s) agree on the best chain (height 100); dns behind at 98');
    // The node's tip is old: stale-tip carries the count, in the record and the text.
    wd.observeNodeTip({ height: 100, hash: h(100), time: T, chainWork: 1000n });
    at(T + 6000);
    wd.check();
    expect(raised).toHaveLength(1);
    expect(raised[0].kind).toBe('stale-tip');
    expect(raised[0].agreement).toMatchObject({ agreeing: 2, sources: 3 });
    expect(raised[0].detail).toMatch(/; 2 of 3 independent source\(s\) agree on the best chain \(height 100\); dns behind at 98$/);
  });

  it('counts a server once however many links reach it, agreeing if any of them does', () => {
    const server = (l: string) => (l.startsWith('mempool') ? 'mempool.space' : l);
    const { wd } = setup(server);
    wd.observeLinkTip('mempool', { height: 99, chainWork: 990n, hash: h(99) });
    wd.observeLinkTip('mempool-onion-too', { height: 100, chainWork: 1000n, hash: h(100) });
    wd.observeLinkTip('lora0', { height: 99, chainWork: 990n, hash: h(99) });
    const a = wd.agreement();
    expect([a.agreeing, a.sources]).toEqual([1, 2]);
    expect(a.standings.find((s) => s.origin === 'mempool.space')).toMatchObject({
      links: ['mempool', 'mempool-onion-too'],
      standing: 'agrees',
    });
  });

  it('a tip we do not hold is a claim, not agreement; a tip reported before its headers agrees once they are held', () => {
    const { wd, extend } = setup();
    wd.observeLinkTip('a', { height: 101, chainWork: 1010n, hash: h(101) });
    wd.observeLinkTip('b', { height: 100, chainWork: 1000n, hash: h(100) });
    wd.observeLinkTip('radio', { height: 100, chainWork: 1000n }); // no hash: cannot be checked
    let a = wd.agreement();
    expect(a.standings.map((s) => `${s.origin}:${s.standing}`)).toEqual(['a:unproven', 'b:agrees', 'radio:unproven']);
    extend(); // the headers of 101 arrive and are valid: the best chain moves
    a = wd.agreement();
    expect(a.standings.map((s) => `${s.origin}:${s.standing}`)).toEqual(['a:agrees', 'b:behind', 'radio:behind']);
    expect([a.agreeing, a.sources]).toEqual([1, 3]);
  });

  it('a link that only delivers headers (a beacon receiver) stands by the best valid header it brought', () => {
    const { wd } = setup();
    wd.observeLinkDelivery('lora0', { height: 100, hash: h(100) });
    wd.observeLinkDelivery('kiss0', { height: 99, hash: h(99) });
    // A claim ahead that cannot be checked does not undo what it delivered.
    wd.observeLinkTip('kiss0', { height: 150, chainWork: 1500n });
    const a = wd.agreement();
    expect(a.standings.map((s) => `${s.origin}:${s.standing}:${s.height}`)).toEqual(['kiss0:unproven:150', 'lora0:agrees:100']);
    expect([a.agreeing, a.sources]).toEqual([1, 2]);
    wd.forgetLink('lora0');
    expect(wd.agreement().sources).toBe(1);
  });

  it("a beacon's repeat of an old batch does not make a link that delivered the best chain look behind", () => {
    const { wd } = setup();
    wd.observeLinkDelivery('lora0', { height: 100, hash: h(100) });
    wd.observeLinkDelivery('lora0', { height: 60, hash: h(60) }); // the carousel goes round from the bottom
    expect(wd.agreement().standings.map((s) => `${s.origin}:${s.standing}:${s.height}`)).toEqual(['lora0:agrees:100']);
  });

  it('with no source yet, and for anomalies not about the chain, the record has the count but the text is unchanged', () => {
    const { wd, raised, at } = setup();
    expect(describeAgreement(wd.agreement())).toBe('no source has reported a tip yet');
    wd.observeLinkTip('b', { height: 100, chainWork: 1000n, hash: h(100) });
    wd.watchSilence('lora0', 10, 5);
    at(T + 20);
    wd.check();
    expect(raised.map((a) => a.kind)).toEqual(['link-silent']);
    expect(raised[0].agreement).toMatchObject({ agreeing: 1, sources: 1 });
    expect(raised[0].detail).not.toMatch(/independent source/);
  });
});
