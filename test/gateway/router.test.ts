// Router decisions with a real header chain (the first mainnet headers) and recording links.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { NETWORKS } from '../../src/chain/networks.js';
import { headerHash } from '../../src/chain/header.js';
import { Router, type GatewayMode, type RouterLink } from '../../src/gateway/router.js';
import type { HeaderBatch, LinkCapabilities } from '../../src/links/link.js';
import { Counters } from '../../src/util/counters.js';
import { InvType } from '../../src/node/messages.js';
import type { NodePeer } from '../../src/node/peer.js';
import { silentLogger } from '../../src/util/log.js';
import { SHARED_DATA } from '../harness/data.js';
import { newChain } from '../chain/helpers.js';

const file = new Uint8Array(readFileSync(SHARED_DATA.genesisEraHeaders));
const header = (h: number) => file.subarray(h * 80, h * 80 + 80);
/** `n` headers from height `from` + 1 on. */
const headers = (n: number, from = 0) => Array.from({ length: n }, (_, i) => header(from + i + 1));

function recordingLink(name: string, caps: Partial<LinkCapabilities>) {
  const sent: HeaderBatch[] = [];
  const requests: Uint8Array[][] = [];
  const txs: Uint8Array[] = [];
  const link: RouterLink = {
    name,
    capabilities: {
      direction: 'duplex',
      mtu: 51,
      bitrate: 300,
      dutyCycle: 0.01,
      carries: ['headers', 'tx'],
      needsCallsign: false,
      ...caps,
    },
    sendHeaders: (b) => sent.push(b),
    requestHeaders: (l) => requests.push(l),
    sendTx: (t) => txs.push(t),
  };
  return { link, sent, requests, txs };
}

/**
 * A router over a chain of the first `height` mainnet headers, on a clock the test moves
 * (`clock.now`), with two recording links, each given as [name, capabilities over
 * recordingLink's]: `radio` (default 'lora', a duplex radio) and `web` (default 'esplora', an
 * rx-only internet source).
 */
function setup(
  mode: GatewayMode,
  height = 40,
  o: { radio?: [string, Partial<LinkCapabilities>]; web?: [string, Partial<LinkCapabilities>]; random?: () => number } = {},
) {
  const { chain } = newChain(NETWORKS.main, { checkpoint: null });
  expect(chain.addHeaders(headers(height)).accepted).toBe(height);
  const clock = { now: 1_000_000 };
  const counters = new Counters();
  const router = new Router({ chain, log: silentLogger(), counters, mode, nodePeers: () => [], now: () => clock.now, random: o.random });
  const radio = recordingLink(...(o.radio ?? ['lora', {}]));
  const web = recordingLink(...(o.web ?? ['esplora', { dutyCycle: 1, mtu: 1_000_000, direction: 'rx', carries: ['headers'] }]));
  router.addLink(radio.link);
  router.addLink(web.link);
  return { chain, router, radio, web, clock, counters };
}

describe('router', () => {
  it('beacons 16-header batches, the newest first, then round from the oldest', () => {
    const { router, radio, web } = setup('beacon', 40);
    for (let i = 0; i < 4; i++) router.beaconHeaders();
    expect(radio.sent.map((b) => [b.parentHeight, b.headers.length])).toEqual([
      [32, 8],
      [0, 16],
      [16, 16],
      [32, 8],
    ]);
    expect(radio.sent[2].parent).toEqual(header(16));
    expect(headerHash(radio.sent[2].headers[0])).toEqual(headerHash(header(17)));
    // An rx-only source is never asked to transmit.
    expect(web.sent).toEqual([]);
  });

  it("beacons each link's batch size round the carousel; blocks that went as tips go as they are at the top of each round until they make half a batch, and the batches stay as made", () => {
    const { router, radio } = setup('beacon', 40);
    const order = () => radio.sent.splice(0).map((b) => [b.parentHeight, b.headers.length]);
    for (let i = 0; i < 5; i++) expect(router.beaconNext('lora', 8)).toBe(true);
    expect(order()).toEqual([
      [32, 8],
      [0, 8],
      [8, 8],
      [16, 8],
      [24, 8],
    ]);
    // Header 41 arrives: the tip goes alone at once, and again at the top of the round (a receiver
    // that lost the tip frame gets it), not fixed as a batch of its own.
    expect(router.onLinkHeaders('esplora', [header(41)]).tipChanged).toBe(true);
    expect(order()).toEqual([[40, 1]]);
    for (let i = 0; i < 2; i++) router.beaconNext('lora', 8);
    expect(order()).toEqual([
      [32, 8],
      [40, 1],
    ]);
    // Three more blocks, each a tip: half a batch (41..44) goes at the top of the next round and
    // stays that batch (the next starts at 44), so its passes add up at a receiver.
    for (const h of [42, 43, 44]) router.onLinkHeaders('esplora', [header(h)]);
    order();
    for (let i = 0; i < 6; i++) router.beaconNext('lora', 8);
    expect(order()).toEqual([
      [0, 8],
      [8, 8],
      [16, 8],
      [24, 8],
      [32, 8],
      [40, 4],
    ]);
    // A batch of blocks that all went as tips goes twice in a row (the second pass a share of its
    // symbols), so a receiver that lost a frame of it need not wait a round.
    for (const h of [45, 46, 47, 48, 49, 50, 51, 52]) router.onLinkHeaders('esplora', [header(h)]);
    order();
    for (let i = 0; i < 4; i++) router.beaconNext('lora', 8);
    expect(order()).toEqual([
      [40, 4],
      [44, 8],
      [44, 8],
      [0, 8],
    ]);
  });

  it('feeds a link that asked before there was a chain as soon as the tip moves, and only in beacon mode', () => {
    const { router, radio } = setup('beacon', 0);
    expect(router.beaconNext('lora', 16)).toBe(false);
    expect(radio.sent).toEqual([]);
    router.onLinkHeaders('esplora', [header(1), header(2)]);
    // The tip alone, then the batch the link asked for.
    expect(radio.sent.map((b) => [b.parentHeight, b.headers.length])).toEqual([
      [1, 1],
      [0, 2],
    ]);
    const gw = setup('gateway', 40);
    expect(gw.router.beaconNext('lora', 16)).toBe(false);
    expect(gw.radio.sent).toEqual([]);
  });

  it('starts beaconDepth below the tip and drops the oldest batch only after CAROUSEL_FLOOR_PASSES passes, one batch at a time, so blocks arriving meanwhile strand no receiver', () => {
    const { router, radio } = setup('beacon', 300);
    const order = () => radio.sent.splice(0).map((b) => [b.parentHeight, b.headers.length]);
    // 300 - 144 = 156: 64-header batches from there (the newest first), 144 headers a round.
    for (let i = 0; i < 3; i++) router.beaconNext('lora', 64);
    expect(order()).toEqual([
      [284, 16],
      [156, 64],
      [220, 64],
    ]);
    // 70 blocks later the oldest batch (157..220) lies beyond the depth, but it went once: it
    // stays; the round goes on with the batches as made (285..300 too), a new full one of blocks
    // that went as tips (twice in a row) and the blocks above it as they are.
    for (let h = 301; h <= 370; h++) router.onLinkHeaders('esplora', [header(h)]);
    order();
    for (let i = 0; i < 8; i++) router.beaconNext('lora', 64);
    expect(order()).toEqual([
      [284, 16],
      [300, 64],
      [300, 64],
      [364, 6],
      [156, 64],
      [220, 64],
      [284, 16],
      [300, 64],
    ]);
    // Its third pass is its last: after it the carousel starts from the next batch up.
    for (let i = 0; i < 7; i++) router.beaconNext('lora', 64);
    expect(order()).toEqual([
      [364, 6],
      [156, 64],
      [220, 64],
      [284, 16],
      [300, 64],
      [364, 6],
      [220, 64],
    ]);
  });

  it('announces just the tip when asked', () => {
    const { router, radio } = setup('beacon', 40);
    router.beaconHeaders(true);
    expect(radio.sent).toHaveLength(1);
    expect(radio.sent[0].parentHeight).toBe(39);
    expect(radio.sent[0].headers).toEqual([header(40)]);
  });

  it('in receive-only mode never transmits: no beacons, no tx, no requests on radio links', () => {
    const { router, radio, web } = setup('receive-only');
    expect(router.beaconHeaders()).toBe(0);
    expect(router.sendTxOnLinks(new Uint8Array(100))).toEqual([]);
    expect(router.requestHeadersEverywhere('test')).toBe(1);
    expect(radio.requests).toEqual([]);
    expect(web.requests).toHaveLength(1);
    router.onLinkHeadersWanted('lora', { locator: [{ height: 5, prefix: headerHash(header(5)).subarray(0, 4) }], max: 10 });
    expect(radio.sent).toEqual([]);
  });

  it('answers a radio request from the newest locator entry it knows', () => {
    const { router, radio } = setup('gateway');
    const bogus = new Uint8Array(4).fill(0xee);
    router.onLinkHeadersWanted('lora', {
      locator: [
        { height: 30, prefix: bogus },
        { height: 20, prefix: headerHash(header(20)).subarray(0, 4) },
      ],
      max: 5,
    });
    expect(radio.sent).toHaveLength(1);
    expect(radio.sent[0].parentHeight).toBe(20);
    expect(radio.sent[0].headers).toEqual([21, 22, 23, 24, 25].map(header));
  });

  it('does not ask a duplex radio peer whose tip it just learned is ours: neither after its request nor after its tip frame (issue 17)', () => {
    const { router, radio, clock, counters } = setup('gateway', 40, {
      radio: ['ham', { bitrate: 1200, dutyCycle: 1, needsCallsign: true }],
      random: () => 0,
    });
    const entry = (h: number) => ({ height: h, prefix: headerHash(header(h)).subarray(0, 4) });
    // Link-up: we ask; the peer, in step with us, asks too (its newest locator entry is our tip).
    router.requestHeadersEverywhere('link ham came up');
    router.onLinkHeadersWanted('ham', { locator: [entry(40), entry(39)], max: 64 });
    expect(radio.sent).toEqual([]); // nothing to answer
    // Its request told us it has nothing for us: no retries of ours, and another link coming up
    // does not make us ask it again (without this: 1 + 3 requests nobody could answer).
    for (let i = 0; i < 10; i++) {
      clock.now += 30_000;
      router.tick();
    }
    expect(radio.requests).toHaveLength(1);
    clock.now = 2_000_000;
    router.onLinkHeadersWanted('ham', { locator: [entry(40)], max: 64 });
    router.requestHeadersEverywhere('link esplora came up');
    expect(radio.requests).toHaveLength(1);
    expect(counters.get('link.ham.radio_requests_skipped_in_step')).toBe(1);
    // Such news is trusted for a minute only (a duplex peer does not announce its new tips).
    clock.now += 60_000;
    router.requestHeadersEverywhere('link esplora came up');
    expect(radio.requests).toHaveLength(2);
    // A peer whose newest entry is below our tip is behind, not in step: we still ask it (it may
    // know a fork); one whose tip frame names our tip is in step.
    router.onLinkHeadersWanted('ham', { locator: [entry(30)], max: 64 });
    router.requestHeadersEverywhere('anomaly');
    expect(radio.requests).toHaveLength(3);
    router.onLinkTip('ham', { height: 40, hash: headerHash(header(40)) });
    router.requestHeadersEverywhere('anomaly');
    expect(radio.requests).toHaveLength(3);
  });

  it('answers a block inv from the node for an unknown block with getheaders, and ignores known ones', () => {
    const { router, chain } = setup('gateway');
    const asked: Uint8Array[][] = [];
    const peer = { requestHeaders: (locator: Uint8Array[]) => asked.push(locator) } as unknown as NodePeer;
    router.nodeEvents.inv(peer, [{ type: InvType.BLOCK, hash: headerHash(header(20)) }]);
    expect(asked).toEqual([]);
    router.nodeEvents.inv(peer, [{ type: InvType.WITNESS_BLOCK, hash: new Uint8Array(32).fill(7) }]);
    expect(asked).toEqual([chain.locator()]);
  });

  it('sends transactions only on transmit links that carry them', () => {
    const { router, radio, web } = setup('gateway');
    expect(router.sendTxOnLinks(Uint8Array.of(1, 2, 3))).toEqual(['lora']);
    expect(radio.txs).toHaveLength(1);
    expect(web.txs).toEqual([]);
  });

  it('follows a batch that moved the tip with the next request at once; never a radio; asks a stalled sync again', () => {
    const { router, radio, web, clock } = setup('gateway', 0);
    router.onLinkHeaders('esplora', headers(100));
    expect(web.requests).toHaveLength(1);
    expect(web.requests[0][0]).toEqual(headerHash(header(100)));
    // One new block's header is no batch: nothing more to ask for.
    router.onLinkHeaders('esplora', [header(101)]);
    expect(web.requests).toHaveLength(1);
    // A radio is not asked on a tip claim or a stall timer like an internet source (asking costs
    // airtime): only for the range it lacks, below (request-driven catch-up).
    router.onLinkHeaders('lora', [header(102)]);
    expect(radio.requests).toHaveLength(0);
    // A tip claim above ours is followed, at most once per 5 s.
    router.onLinkTip('esplora', { height: 5000 });
    router.onLinkTip('esplora', { height: 5000 });
    expect(web.requests).toHaveLength(1); // within 5 s of the last ask
    clock.now += 5000;
    router.onLinkTip('esplora', { height: 5000 });
    expect(web.requests).toHaveLength(2);
    // A follow-up whose answer never comes is asked again after 10 s, three times at most.
    router.onLinkHeaders('esplora', headers(100, 102));
    expect(web.requests).toHaveLength(3);
    for (let i = 0; i < 5; i++) {
      clock.now += 10_000;
      router.tick();
    }
    expect(web.requests).toHaveLength(6);
  });

  it('on a duplex radio, asks the peer for the range it lacks: after a full answer at once, on a tip claim once a minute; never receive-only', () => {
    const make = (mode: GatewayMode) => setup(mode, 0, { web: ['rxlora', { direction: 'rx' }] });
    const { chain, router, radio, web: rxRadio, clock } = make('gateway');
    // A heard tip above ours: ask for what we lack, from our locator.
    router.onLinkTip('lora', { height: 500 });
    expect(radio.requests).toHaveLength(1);
    expect(radio.requests[0][0]).toEqual(chain.tip().hash);
    // Claims again within a minute cost no more airtime.
    clock.now += 59_000;
    router.onLinkTip('lora', { height: 500 });
    expect(radio.requests).toHaveLength(1);
    // A full answer (64 headers, the most a radio answers) that moved the tip: ask on at once.
    router.onLinkHeaders('lora', headers(64));
    expect(radio.requests).toHaveLength(2);
    expect(radio.requests[1][0]).toEqual(headerHash(header(64)));
    // A short answer ends the catch-up: nothing more to ask.
    router.onLinkHeaders('lora', headers(10, 64));
    expect(radio.requests).toHaveLength(2);
    clock.now += 60_000;
    router.onLinkTip('lora', { height: 500 });
    expect(radio.requests).toHaveLength(3);
    // A link that cannot transmit is never asked.
    router.onLinkTip('rxlora', { height: 500 });
    router.onLinkHeaders('rxlora', headers(64, 74));
    expect(rxRadio.requests).toHaveLength(0);
    // A receive-only gateway only listens.
    const ro = make('receive-only');
    ro.router.onLinkTip('lora', { height: 500 });
    ro.router.onLinkHeaders('lora', headers(64));
    expect(ro.radio.requests).toHaveLength(0);
  });

  it('asks a duplex radio again when a request brought no headers (lost on air, or no peer heard it): after the airtime of a full answer, doubling, three times at most', () => {
    // AFSK 1200 at a 50% duty cycle: a full answer (64 headers, ~2.6 kB coded) takes ~17.5 s of
    // air, half as much again for the modem's per-frame overhead, doubled by the duty cycle.
    const {
      router,
      radio,
      web: rxRadio,
      clock,
      counters,
    } = setup('gateway', 0, {
      radio: ['ham', { bitrate: 1200, dutyCycle: 0.5 }],
      web: ['rxham', { bitrate: 1200, dutyCycle: 0.5, direction: 'rx' }],
      random: () => 0,
    });
    const wait = ((64 * 40 + 64) * 8 * 1000 * 1.5) / 1200 / 0.5;
    // The link came up: everyone is asked (a radio that cannot transmit is not).
    expect(router.requestHeadersEverywhere('link ham came up')).toBe(1);
    expect(radio.requests).toHaveLength(1);
    expect(rxRadio.requests).toHaveLength(0);
    clock.now += wait - 1;
    router.tick();
    expect(radio.requests).toHaveLength(1);
    clock.now += 1;
    router.tick();
    expect(radio.requests).toHaveLength(2);
    expect(counters.get('link.ham.radio_request_retries')).toBe(1);
    // The next waits double: 2x, then 4x.
    clock.now += 2 * wait - 1;
    router.tick();
    expect(radio.requests).toHaveLength(2);
    clock.now += 1;
    router.tick();
    clock.now += 4 * wait;
    router.tick();
    expect(radio.requests).toHaveLength(4);
    // Three retries unanswered: no peer ahead heard us; stop until a tip claim or the link coming up.
    for (let i = 0; i < 5; i++) {
      clock.now += 8 * wait;
      router.tick();
    }
    expect(radio.requests).toHaveLength(4);
    expect(counters.get('link.ham.radio_requests_unanswered')).toBe(1);
    // Headers from the link answer a request: no retry follows.
    router.requestHeadersEverywhere('anomaly');
    expect(radio.requests).toHaveLength(5);
    router.onLinkHeaders('ham', headers(10));
    clock.now += 100 * wait;
    router.tick();
    expect(radio.requests).toHaveLength(5);
  });
});
