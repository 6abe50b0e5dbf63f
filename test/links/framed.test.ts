// The framed link (codec over a FrameTransport): what goes on the air and what comes back out.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { FramedLink, framedLinkOptions, type FramedLinkOptions } from '../../src/links/framed.js';
import type { FrameTransport, LinkCapabilities, LinkContext, LinkDirection, TipReport } from '../../src/links/link.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { headerHash } from '../../src/chain/header.js';
import { Counters } from '../../src/util/counters.js';
import { silentLogger } from '../../src/util/log.js';
import { SHARED_DATA } from '../harness/data.js';
import { decodeFrame, FrameType } from '../../src/codec/frames.js';
import { ManualClock } from '../../src/util/clock.js';

const file = new Uint8Array(readFileSync(SHARED_DATA.genesisEraHeaders));
const header = (h: number) => file.subarray(h * 80, h * 80 + 80);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => header(a + i));

/** An in-memory radio: frames go to the peer's handler; `hold` keeps sends pending until released. */
class MemoryRadio implements FrameTransport {
  readonly capabilities: LinkCapabilities;
  sent: Uint8Array[] = [];
  peer: MemoryRadio | undefined;
  hold = false;
  private waiting: Array<() => void> = [];
  private handler: (f: Uint8Array) => void = () => {};
  constructor(
    direction: LinkDirection = 'duplex',
    duty: { dutyCycle: number; bitrate: number } = { dutyCycle: 1, bitrate: 5469 },
    mtu = 51,
  ) {
    this.capabilities = { direction, mtu, ...duty, carries: ['headers', 'tx'], needsCallsign: false };
  }
  async open() {}
  async close() {}
  onState() {}
  onFrame(h: (f: Uint8Array) => void) {
    this.handler = h;
  }
  receive(f: Uint8Array) {
    this.handler(f);
  }
  send(frame: Uint8Array): Promise<void> {
    const go = () => {
      this.sent.push(frame);
      this.peer?.receive(frame);
    };
    if (!this.hold) {
      go();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => (go(), resolve())));
  }
  release() {
    this.hold = false;
    for (const w of this.waiting.splice(0)) w();
  }
}

function endpoint(radio: MemoryRadio, now?: () => number, options: FramedLinkOptions = {}) {
  const got = { headers: [] as Uint8Array[], tips: [] as TipReport[], txs: [] as Uint8Array[], txAcks: [] as Uint8Array[][] };
  const counters = new Counters();
  const ctx: LinkContext = {
    log: silentLogger(),
    counters,
    network: NETWORKS.main,
    events: {
      headers: (h) => got.headers.push(...h),
      tx: (t) => got.txs.push(t),
      tip: (t) => got.tips.push(t),
      txAck: (p) => got.txAcks.push(p),
      state: () => {},
    },
  };
  return { link: new FramedLink('air', radio, ctx, { ...options, now }), got, counters };
}

async function pair(mtu = 51) {
  const ra = new MemoryRadio('duplex', undefined, mtu);
  const rb = new MemoryRadio('duplex', undefined, mtu);
  ra.peer = rb;
  rb.peer = ra;
  const a = endpoint(ra);
  const b = endpoint(rb);
  await a.link.start();
  await b.link.start();
  return { a, b, ra, rb };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('framed link', () => {
  it('carries a header batch and then a standalone tip, rebuilt exactly from context', async () => {
    const { a, b } = await pair();
    b.link.setContext(0, range(0, 16));
    await a.link.sendHeaders({ parentHeight: 16, parent: header(16), headers: range(17, 32) });
    await flush();
    expect(b.got.headers).toEqual(range(17, 32));
    await a.link.sendHeaders({ parentHeight: 32, parent: header(32), headers: [header(33)] });
    await flush();
    expect(b.got.headers.at(-1)).toEqual(header(33));
    expect(b.got.tips.at(-1)).toEqual({ height: 33, hash: headerHash(header(33)) });
  });

  it('keeps a batch whose parent it lacks and decodes it once the earlier batch arrives', async () => {
    const { a, b } = await pair();
    b.link.setContext(0, range(0, 16));
    await a.link.sendHeaders({ parentHeight: 32, parent: header(32), headers: range(33, 48) });
    await flush();
    expect(b.got.headers).toEqual([]);
    expect(b.counters.get('header_batches_waiting')).toBe(1);
    await a.link.sendHeaders({ parentHeight: 16, parent: header(16), headers: range(17, 32) });
    await flush();
    expect(b.got.headers).toEqual(range(17, 48));
  });

  it('when too many batches wait, drops the one farthest from its newest header, not the next to attach (issue 17)', async () => {
    const { a, b } = await pair();
    b.link.setContext(0, range(0, 16));
    // The batch right above a gap first, then 64 from far above: the list holds 64.
    await a.link.sendHeaders({ parentHeight: 32, parent: header(32), headers: range(33, 34) });
    await flush();
    for (let i = 0; i < 64; i++) {
      const p = 200 + 2 * i;
      await a.link.sendHeaders({ parentHeight: p, parent: header(p), headers: range(p + 1, p + 2) });
      await flush();
    }
    expect(b.counters.get('header_batches_waiting')).toBe(65);
    expect(b.counters.get('header_batches_dropped')).toBe(1);
    // The gap's batch arrives: the one above it was kept (the oldest, dropped before), so both attach.
    await a.link.sendHeaders({ parentHeight: 16, parent: header(16), headers: range(17, 32) });
    await flush();
    expect(b.got.headers).toEqual(range(17, 34));
  });

  it('sends version 2 fragments with fragments=2 (receivers not yet upgraded), version 3 by default, and takes both', async () => {
    expect(() => framedLinkOptions('air', { fragments: '4' })).toThrow(expect.objectContaining({ code: 'link-option-invalid' }));
    expect(framedLinkOptions('air', {}).framed.fragmentVersion).toBe(3);
    for (const [fragments, type] of [
      ['2', FrameType.FRAGMENT],
      ['3', FrameType.FRAGMENT_V3],
    ] as const) {
      const ra = new MemoryRadio();
      const rb = new MemoryRadio();
      ra.peer = rb;
      const a = endpoint(ra, undefined, framedLinkOptions('air', { fragments }).framed);
      const b = endpoint(rb); // the default: it sends version 3, receives both
      await a.link.start();
      await b.link.start();
      b.link.setContext(0, range(0, 16));
      await a.link.sendHeaders({ parentHeight: 16, parent: header(16), headers: range(17, 32) });
      await flush();
      expect(new Set(ra.sent.map((f) => decodeFrame(f).type))).toEqual(new Set([type]));
      expect(b.got.headers).toEqual(range(17, 32));
    }
  });

  it('reports an unresolvable tip by height only', async () => {
    const { a, b } = await pair();
    await a.link.sendHeaders({ parentHeight: 99, parent: header(99), headers: [header(100)] });
    await flush();
    expect(b.got.headers).toEqual([]);
    expect(b.got.tips).toEqual([{ height: 100 }]);
  });

  it('replaces a queued tip with a newer one, holds the first batch offered while one is queued and skips the rest, but never a transaction', async () => {
    const { a, b, ra } = await pair();
    ra.hold = true;
    const tip = (h: number) => a.link.sendHeaders({ parentHeight: h - 1, parent: header(h - 1), headers: [header(h)] });
    await tip(20); // in flight
    await tip(21); // queued
    await tip(22); // replaces 21
    await a.link.sendHeaders({ parentHeight: 0, parent: header(0), headers: range(1, 16) }); // queued
    await a.link.sendHeaders({ parentHeight: 16, parent: header(16), headers: range(17, 32) }); // held: goes next
    await a.link.sendHeaders({ parentHeight: 32, parent: header(32), headers: range(33, 48) }); // skipped
    await a.link.sendTx(new Uint8Array(120).fill(1));
    await a.link.sendTx(new Uint8Array(120).fill(2));
    ra.release();
    await new Promise((r) => setTimeout(r, 20));
    expect(a.counters.get('tips_superseded')).toBe(1);
    expect(a.counters.get('header_batches_skipped_busy')).toBe(1);
    expect(a.counters.get('header_batches_tx')).toBe(2);
    expect(a.counters.get('tx_tx')).toBe(2);
    // The far end (no context: tips reported by height) heard 20 and 22, never the stale 21.
    expect(b.got.tips).toEqual([{ height: 20 }, { height: 22 }]);
    expect(b.got.txs.map((t) => t[0])).toEqual([1, 2]);
  });

  it('keeps a tip whose parent it lacks and rebuilds it once the batch with its parent arrives (issue 17)', async () => {
    const { a, b } = await pair();
    b.link.setContext(0, range(0, 16));
    await a.link.sendHeaders({ parentHeight: 32, parent: header(32), headers: [header(33)] });
    await a.link.sendHeaders({ parentHeight: 33, parent: header(33), headers: [header(34)] });
    await flush();
    expect(b.got.headers).toEqual([]);
    expect(b.got.tips).toEqual([{ height: 33 }, { height: 34 }]); // heights only, for the watchdog
    await a.link.sendHeaders({ parentHeight: 16, parent: header(16), headers: range(17, 32) });
    await flush();
    // The batch, then both tips in order: a receiver catching up from a beacon joins the tips
    // of the blocks mined meanwhile instead of waiting for the carousel to come round.
    expect(b.got.headers).toEqual(range(17, 34));
    expect(b.got.tips.slice(2)).toEqual([
      { height: 33, hash: headerHash(header(33)) },
      { height: 34, hash: headerHash(header(34)) },
    ]);
    expect(b.counters.get('tips_resolved_late')).toBe(2);
  });

  it('sends a new tip together with the tip still waiting for the radio, as one frame, instead of replacing it (issue 17)', async () => {
    const { a, b, ra } = await pair(115);
    b.link.setContext(0, range(0, 40));
    ra.hold = true;
    // Tip 41 is with the radio; 42 waits; 43 comes before 42 left: 42 and 43 go as one batch.
    for (const h of [41, 42, 43]) await a.link.sendHeaders({ parentHeight: h - 1, parent: header(h - 1), headers: [header(h)] });
    ra.release();
    await flush();
    await flush();
    expect(ra.sent.map((f) => decodeFrame(f).type)).toEqual([FrameType.TIP, FrameType.HEADERS]);
    expect(b.got.headers).toEqual(range(41, 43));
    expect(a.counters.get('tips_joined')).toBe(1);
    expect(a.counters.get('tips_superseded')).toBe(0);
    // On a 51-byte radio two headers do not fit one frame: the newer replaces the older, as before.
    const small = await pair();
    small.ra.hold = true;
    for (const h of [41, 42, 43]) await small.a.link.sendHeaders({ parentHeight: h - 1, parent: header(h - 1), headers: [header(h)] });
    small.ra.release();
    await flush();
    expect(small.ra.sent.map((f) => decodeFrame(f).type)).toEqual([FrameType.TIP, FrameType.TIP]);
    expect(small.a.counters.get('tips_superseded')).toBe(1);
  });

  it('lets a new tip overtake the rest of a long batch', async () => {
    const { a, ra } = await pair();
    ra.hold = true;
    await a.link.sendHeaders({ parentHeight: 0, parent: header(0), headers: range(1, 16) });
    await a.link.sendHeaders({ parentHeight: 39, parent: header(39), headers: [header(40)] });
    ra.release();
    await new Promise((r) => setTimeout(r, 20));
    const types = ra.sent.map((f) => decodeFrame(f).type);
    expect(types.length).toBeGreaterThan(3);
    // The batch's first fragment was already with the radio; the tip goes right after it.
    expect(types.slice(0, 2)).toEqual([FrameType.FRAGMENT_V3, FrameType.TIP]);
    expect(types.slice(2).every((t) => t === FrameType.FRAGMENT_V3)).toBe(true);
  });

  it('asks for the next beacon batch when the last has left and the beacon interval has passed, sized to the airtime budget', async () => {
    const clock = new ManualClock(0);
    const radio = new MemoryRadio('tx', { dutyCycle: 0.01, bitrate: 293 }); // SF12/125 kHz at 1%
    const wanted: number[] = [];
    const counters = new Counters();
    const ctx: LinkContext = {
      log: silentLogger(),
      counters,
      network: NETWORKS.main,
      events: { headers: () => {}, tx: () => {}, state: () => {}, beaconWanted: (n) => wanted.push(n) },
    };
    const link = new FramedLink('air', radio, ctx, { clock });
    await link.start();
    clock.advance(0);
    // 293 bit/s at 1%: a batch fits the hour's 36 s of airtime (at most 28 headers, 30 s); with
    // airtime in proportion to bytes (no preamble here) and the oldest batch starting at the floor,
    // the largest carries 144 headers in the least (fewest batch headers and part-empty frames).
    expect(wanted).toEqual([28]);
    expect(link.beaconBatchHeaders()).toBe(28);
    radio.hold = true;
    await link.sendHeaders({ parentHeight: 0, parent: header(0), headers: range(1, 8) });
    const frames = radio.sent.length + 1;
    clock.advance(120_000);
    expect(wanted).toHaveLength(1); // the batch has not left yet
    radio.release();
    await flush();
    const airtimeS = (radio.sent.reduce((n, f) => n + f.length, 0) * 8) / 293;
    expect(radio.sent.length).toBeGreaterThanOrEqual(frames);
    // Next ask: one batch's airtime / duty cycle after the batch started (nothing here paces the
    // frames by airtime, as a radio's limiter would), not before.
    clock.advance(airtimeS * 100 * 1000 - 120_000 - 1000);
    expect(wanted).toHaveLength(1);
    clock.advance(2000);
    expect(wanted).toEqual([28, 28]);
    // Nothing comes (no chain yet): asked again a minute later.
    clock.advance(60_000);
    expect(wanted).toHaveLength(3);
    expect(counters.get('beacon_asks')).toBe(3);
    // The same batch again: same message id, new symbols (fragment.ts repeat).
    const before = radio.sent.length;
    await link.sendHeaders({ parentHeight: 0, parent: header(0), headers: range(1, 8) });
    await flush();
    const ids = (fs: Uint8Array[]) => new Set(fs.map((f) => decodeFrame(f).body[0]));
    expect(ids(radio.sent.slice(before))).toEqual(ids(radio.sent.slice(0, before)));
    expect(counters.get('header_batch_repeats')).toBe(1);
    await link.stop();
  });

  it('keeps to beaconinterval= when it is given', async () => {
    const clock = new ManualClock(0);
    const radio = new MemoryRadio('duplex', { dutyCycle: 1, bitrate: 1200 });
    const wanted: number[] = [];
    const ctx: LinkContext = {
      log: silentLogger(),
      counters: new Counters(),
      network: NETWORKS.main,
      events: { headers: () => {}, tx: () => {}, state: () => {}, beaconWanted: (n) => wanted.push(n) },
    };
    const link = new FramedLink('air', radio, ctx, { clock, beaconIntervalMs: 30_000 });
    await link.start();
    clock.advance(0);
    // AFSK-like, no duty cycle: 1200 bit/s, 51-byte frames; bigger batches cost less framing.
    expect(wanted[0] % 4).toBe(0);
    await link.sendHeaders({ parentHeight: 0, parent: header(0), headers: range(1, 16) });
    await flush();
    clock.advance(29_000);
    expect(wanted).toHaveLength(1);
    clock.advance(1000);
    expect(wanted).toHaveLength(2);
    await link.stop();
  });

  it('sends a TXACK as one small frame and reports its txid prefixes on the far side (codecs/frames.md 3.4)', async () => {
    const { a, b, ra } = await pair();
    const t1 = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
    const t2 = Uint8Array.from({ length: 32 }, (_, i) => 0xf0 ^ i);
    await a.link.sendTxAck([t1, t2]);
    await flush();
    expect(ra.sent).toHaveLength(1);
    expect(ra.sent[0].length).toBe(1 + 1 + 16 + 2); // frame header, count, two prefixes, CRC-16
    expect(decodeFrame(ra.sent[0]).type).toBe(FrameType.TXACK);
    expect(b.got.txAcks).toEqual([[t1.subarray(0, 8), t2.subarray(0, 8)]]);
    expect(a.counters.get('txacks_tx')).toBe(1);
    expect(b.counters.get('txacks_rx')).toBe(1);
    // A receive-only radio never acknowledges.
    const rxRadio = new MemoryRadio('rx');
    const rx = endpoint(rxRadio);
    await rx.link.start();
    await rx.link.sendTxAck([t1]);
    expect(rxRadio.sent).toEqual([]);
  });

  it('reports a resent transaction each time it arrives, so the gateway can acknowledge it again (frames.md 4.4)', async () => {
    const { a, b } = await pair();
    const tx = Uint8Array.from({ length: 191 }, (_, i) => i);
    await a.link.sendTx(tx);
    await flush();
    expect(b.got.txs).toEqual([tx]); // k = 5 symbols decode it; the 3 repair symbols left do not again
    await a.link.sendTx(tx); // the resend: same msgId, the next symbols
    await flush();
    // Delivered again once k more symbols are heard: about once a pass (here its 8 symbols and
    // the first pass's 3 left over make two rounds of 5).
    expect(b.got.txs).toEqual([tx, tx, tx]);
    expect(b.counters.get('tx_rx')).toBe(3);
    expect(b.counters.get('reassembly.redelivered')).toBe(2);
  });

  it('starts its message ids where its random source says, so two stations on one channel do not both begin at 0', async () => {
    const tx = Uint8Array.from({ length: 191 }, (_, i) => i);
    const firstId = async (random: () => number) => {
      const radio = new MemoryRadio();
      const e = endpoint(radio, undefined, { random });
      await e.link.start();
      await e.link.sendTx(tx);
      await flush();
      const f = decodeFrame(radio.sent[0]);
      expect(f.type).toBe(FrameType.FRAGMENT_V3);
      return f.body[0]; // msgId, the fragment header's first byte (codecs/frames.md 4.2)
    };
    expect(await firstId(() => 0.1)).toBe(25);
    expect(await firstId(() => 0.9)).toBe(230);
  });

  it('holds a header request that came before its chain context and sends it when the context arrives; counts one it cannot send', async () => {
    const { a, ra } = await pair();
    // The gateway asks at link-up; its context may come later: nothing silently dropped.
    await a.link.requestHeaders([headerHash(header(16)), headerHash(header(0))]);
    await flush();
    expect(ra.sent).toEqual([]);
    expect(a.counters.get('header_requests_waiting_context')).toBe(1);
    a.link.setContext(0, range(0, 16));
    await flush();
    expect(ra.sent).toHaveLength(1);
    expect(decodeFrame(ra.sent[0]).type).toBe(FrameType.GETHEADERS);
    expect(a.counters.get('header_requests_tx')).toBe(1);
    // A locator none of whose entries the context has (a foreign chain) is held, then counted as not sent.
    const foreign = new Uint8Array(32).fill(7);
    await a.link.requestHeaders([foreign]);
    a.link.setContext(0, range(0, 16));
    await flush();
    expect(ra.sent).toHaveLength(1);
    expect(a.counters.get('header_requests_not_sent.no_context')).toBe(1);
  });

  it('sends nothing at all on a receive-only radio', async () => {
    const rx = new MemoryRadio('rx');
    const { link, counters } = endpoint(rx);
    await link.start();
    link.setContext(0, range(0, 16));
    await link.sendHeaders({ parentHeight: 16, parent: header(16), headers: range(17, 20) });
    await link.sendTx(new Uint8Array(50));
    await link.requestHeaders([headerHash(header(16))]);
    await flush();
    expect(rx.sent).toEqual([]);
    expect(counters.get('header_requests_not_sent.rx_only')).toBe(1);
  });

  it('counts noise and hostile frames without throwing', async () => {
    const { b, rb } = await pair();
    for (const f of [new Uint8Array(0), Uint8Array.of(0xff), new Uint8Array(51).fill(0x17), Uint8Array.of(0x21, 0, 0)]) rb.receive(f);
    const bad = Object.entries(b.counters.snapshot()).filter(([k]) => k.startsWith('frames_bad.'));
    expect(bad.reduce((n, [, v]) => n + v, 0)).toBe(4);
    expect(b.got.headers).toEqual([]);
  });
});
