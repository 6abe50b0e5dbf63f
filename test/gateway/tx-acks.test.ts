// The receiving side of transaction acknowledgements: which link a transaction came over, the
// node asked by getdata, one TXACK back on that link (repeated, and again if the tx comes again).
import { describe, expect, it } from 'vitest';
import { makeTx } from '../e2e/send-tx-helpers.js';
import {
  ACK_AFTER_RX_MS,
  ACK_FIRST_JITTER_MS,
  ACK_REPEAT_JITTER_MS,
  ACK_REPEAT_MS,
  ACK_REPEATS,
  FIRST_PROBE_MS,
  MAX_ACKS_PER_TX,
  MAX_PROBES,
  PROBE_EVERY_MS,
  TxAckTracker,
} from '../../src/gateway/tx-acks.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import { toHex } from '../../src/util/bytes.js';

const flush = () => new Promise((r) => setTimeout(r, 0));

/** A scripted random source: the given values in turn, then the last one again. */
const scripted = (values: number[]) => {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)];
};

function tracker(canSend = true, opts: { random?: () => number; ackWindowMs?: (link: string) => number | undefined } = {}) {
  let clock = 0;
  const acks: Array<{ link: string; txids: string[] }> = [];
  const probes: string[][] = [];
  const counters = new Counters();
  const t = new TxAckTracker({
    log: memoryLogger(),
    counters,
    now: () => clock,
    sendAck: (link, txids) => (canSend ? (acks.push({ link, txids: txids.map(toHex) }), true) : false),
    probe: (txids) => (probes.push(txids.map(toHex)), 1),
    // Zero: every wait at its shortest (the earliest the schedule allows).
    random: opts.random ?? (() => 0),
    ackWindowMs: opts.ackWindowMs,
  });
  return { t, acks, probes, counters, advance: (ms: number) => (clock += ms), clock: () => clock };
}

describe('TxAckTracker', () => {
  it('asks the node, then acknowledges on the link the transaction came over, three times; again when it comes again', async () => {
    const { t, acks, probes, counters, advance } = tracker();
    const a = makeTx(21);
    const b = makeTx(22);
    const idA = toHex(a.getHash());
    const idB = toHex(b.getHash());
    t.watch('air', a.toBuffer());
    t.watch('ble', b.toBuffer());
    t.tick();
    expect(probes).toEqual([]);
    advance(FIRST_PROBE_MS);
    t.tick();
    expect(probes).toEqual([[idA, idB]]);
    // The node answers with A (txid) and announces B by wtxid: each acknowledged on its own link.
    t.accepted([a.getHash(), new Uint8Array(32)]);
    t.accepted([b.getHash(true)]);
    await flush();
    expect(acks).toEqual([
      { link: 'air', txids: [idA] },
      { link: 'ble', txids: [idB] },
    ]);
    expect(t.size).toBe(0);
    advance(ACK_REPEAT_MS);
    t.tick();
    await flush();
    expect(
      acks
        .slice(2)
        .map((x) => x.link)
        .sort(),
    ).toEqual(['air', 'ble']);
    advance(ACK_REPEAT_MS);
    t.tick();
    await flush();
    expect(acks).toHaveLength(6);
    advance(ACK_REPEAT_MS);
    t.tick();
    await flush();
    expect(acks).toHaveLength(6); // three sends each, no more
    // The sender resends A (it lost every ack): acknowledged again three times once its frames are done, no new probe.
    t.watch('air', a.toBuffer());
    advance(ACK_AFTER_RX_MS);
    t.tick();
    await flush();
    expect(acks.at(-1)).toEqual({ link: 'air', txids: [idA] });
    expect(acks).toHaveLength(7);
    for (const n of [8, 9, 9]) {
      advance(ACK_REPEAT_MS);
      t.tick();
      await flush();
      expect(acks).toHaveLength(n);
    }
    expect(counters.get('txack.repeated')).toBe(1);
    expect(probes).toHaveLength(1);
  });

  it('sends each ack at its drawn time through the injected timer, not on the next tick', async () => {
    let clock = 0;
    const acks: number[] = [];
    const timers: Array<{ at: number; fn: () => void }> = [];
    const t = new TxAckTracker({
      log: memoryLogger(),
      counters: new Counters(),
      now: () => clock,
      sendAck: () => (acks.push(clock), true),
      probe: () => 1,
      random: () => 0.3,
      schedule: (ms, fn) => timers.push({ at: clock + ms, fn }),
    });
    const a = makeTx(25);
    t.watch('air', a.toBuffer());
    t.accepted([a.getHash()]);
    // Run the timers only (never tick): 0.3 of the first jitter, then 0.3 of each repeat's span.
    for (let i = 0; i < 10 && timers.length; i++) {
      timers.sort((x, y) => x.at - y.at);
      const next = timers.shift()!;
      clock = next.at;
      next.fn();
      await flush();
    }
    const gap = ACK_REPEAT_MS + 0.3 * ACK_REPEAT_JITTER_MS;
    const first = 0.3 * ACK_FIRST_JITTER_MS;
    expect(acks).toEqual([first, first + gap, first + 2 * gap]);
  });

  it('gives up on a transaction the node never holds, ignores garbage, counts acks it cannot send', async () => {
    const { t, acks, probes, counters, advance } = tracker(false);
    t.watch('air', new Uint8Array([1, 2, 3]));
    expect(counters.get('txack.unparsable')).toBe(1);
    const a = makeTx(23);
    t.watch('air', a.toBuffer());
    for (let i = 0; i <= MAX_PROBES; i++) {
      advance(i === 0 ? FIRST_PROBE_MS : PROBE_EVERY_MS);
      t.tick();
    }
    expect(probes).toHaveLength(MAX_PROBES);
    expect(t.size).toBe(0);
    expect(counters.get('txack.gave_up')).toBe(1);
    const b = makeTx(24);
    t.watch('air', b.toBuffer());
    t.accepted([b.getHash()]);
    await flush();
    expect(acks).toEqual([]);
    expect(counters.get('txack.not_sent')).toBe(1);
  });

  /**
   * Two gateways accept the same transaction in the same tick (as in test/e2e/send-tx.test.ts,
   * where both of gateway B's acks went out in the same millisecond as gateway A's): on a 1 s
   * tick, the times each sends at must differ. With the former fixed schedule (at once, then
   * 4 s later) both sends of both coincide.
   */
  async function sendTimes(random: () => number, ackWindowMs?: (link: string) => number | undefined, rearrivals = 0) {
    const g = tracker(true, { random, ackWindowMs });
    const times: number[] = [];
    const a = makeTx(31);
    g.t.watch('air', a.toBuffer());
    g.t.accepted([a.getHash()]);
    let seen = 0;
    const note = () => {
      for (; seen < g.acks.length; seen++) times.push(g.clock());
    };
    for (let s = 0; s < 600; s++) {
      if (s > 0 && s <= rearrivals * 30 && s % 30 === 0) g.t.watch('air', a.toBuffer()); // the sender resends every 30 s
      g.t.tick();
      await flush(); // acks due together go out at the end of the turn
      note();
      g.advance(1000);
    }
    return { times, counters: g.counters };
  }
  it('spaces the repeats of two gateways apart with the injected random, a bounded number of times', async () => {
    // Scripted draws: gateway A draws low, gateway B high (first wait, then each repeat's).
    const gwA = await sendTimes(scripted([0.1, 0.2]));
    const gwB = await sendTimes(scripted([0.9, 0.7]));
    expect(gwA.times).toHaveLength(ACK_REPEATS);
    expect(gwB.times).toHaveLength(ACK_REPEATS);
    expect(gwA.times.filter((t) => gwB.times.includes(t))).toEqual([]);
    // Each wait is drawn within its bounds: the first within ACK_FIRST_JITTER_MS (plus a tick), the repeat's gap within ACK_REPEAT_MS..+jitter.
    for (const { times } of [gwA, gwB]) {
      expect(times[0]).toBeLessThanOrEqual(ACK_FIRST_JITTER_MS + 1000);
      const gap = times[1] - times[0];
      expect(gap).toBeGreaterThanOrEqual(ACK_REPEAT_MS);
      expect(gap).toBeLessThanOrEqual(ACK_REPEAT_MS + ACK_REPEAT_JITTER_MS + 1000);
    }
    // The draws are used: different draws give a different schedule.
    expect(gwA.times).not.toEqual(gwB.times);
  });

  it('sends at most MAX_ACKS_PER_TX acks per accepted transaction however often it comes again', async () => {
    const r = await sendTimes(scripted([0.5]), undefined, 19);
    expect(r.times.length).toBe(MAX_ACKS_PER_TX);
    expect(r.counters.get('txack.capped')).toBeGreaterThan(0);
  });

  it('fits the repeats of one acknowledgement in one duty-cycle window', async () => {
    const window = 6000;
    const r = await sendTimes(scripted([0, 0.99]), (link) => (link === 'air' ? window : undefined));
    expect(r.times).toHaveLength(ACK_REPEATS);
    // ACK_REPEATS - 1 gaps of at most window / ACK_REPEATS each: the whole schedule within the window.
    expect(r.times.at(-1)! - r.times[0]).toBeLessThanOrEqual((window * (ACK_REPEATS - 1)) / ACK_REPEATS);
    // Without a window the same draw would wait far longer.
    const free = await sendTimes(scripted([0, 0.99]));
    expect(free.times.at(-1)! - free.times[0]).toBeGreaterThan(window);
  });
});
