// The receiving side of transaction acknowledgements: which link a transaction came over, the
// node asked by getdata, one TXACK back on that link (repeated, and again if the tx comes again).
import { describe, expect, it } from 'vitest';
import { makeTx } from '../e2e/send-tx-helpers.js';
import { ACK_AFTER_RX_MS, ACK_REPEAT_MS, FIRST_PROBE_MS, MAX_PROBES, PROBE_EVERY_MS, TxAckTracker } from '../../src/gateway/tx-acks.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import { toHex } from '../../src/util/bytes.js';

const flush = () => new Promise((r) => setTimeout(r, 0));

function tracker(canSend = true) {
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
  });
  return { t, acks, probes, counters, advance: (ms: number) => (clock += ms) };
}

describe('TxAckTracker', () => {
  it('asks the node, then acknowledges on the link the transaction came over, twice; again when it comes again', async () => {
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
    expect(acks).toHaveLength(4); // two sends each, no more
    // The sender resends A (it lost both acks): acknowledged again twice once its frames are done, no new probe.
    t.watch('air', a.toBuffer());
    advance(ACK_AFTER_RX_MS);
    t.tick();
    await flush();
    expect(acks.at(-1)).toEqual({ link: 'air', txids: [idA] });
    expect(acks).toHaveLength(5);
    advance(ACK_REPEAT_MS);
    t.tick();
    await flush();
    expect(acks).toHaveLength(6);
    expect(counters.get('txack.repeated')).toBe(1);
    expect(probes).toHaveLength(1);
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
});
