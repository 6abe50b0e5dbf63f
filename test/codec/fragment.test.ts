import { describe, expect, it } from 'vitest';
import { Counters } from '../../src/util/counters.js';
import { MalformedInputError } from '../../src/util/errors.js';
import { decodeFrame, encodeFrame, FRAGMENT_FRAME_TYPE, type FragmentVersion, FrameType, type Integrity } from '../../src/codec/frames.js';
import { ArqSender, Fragmenter, MessageEncoder, Reassembler } from '../../src/codec/fragment.js';
import { Prng } from './prng.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('one-way fragmentation with erasure coding', () => {
  it('delivers payloads at random MTUs through random loss (property, seeded)', () => {
    const rng = new Prng(30);
    for (let trial = 0; trial < 80; trial++) {
      const mtu = rng.range(20, 300);
      const integrity = rng.pick<Integrity>(['none', 'crc16', 'crc32']);
      const payload = rng.bytes(rng.range(0, 3000));
      const loss = rng.pick([0, 0.1, 0.3]);
      const fragmentVersion = rng.pick<FragmentVersion>([2, 3]);
      const frag = new Fragmenter({ mtu, integrity, fragmentVersion });
      const rx = new Reassembler({ integrity });
      // Generous repair so the seeded loss pattern cannot defeat it; bench measures the ratio.
      const repair = 2 * Math.ceil((payload.length + 10) / (mtu - 14)) + 4;
      const frames = frag.fragment(FrameType.TX, payload, { repair });
      const got: Uint8Array[] = [];
      for (const f of frames) {
        expect(f.length).toBeLessThanOrEqual(mtu);
        if (rng.chance(loss)) continue;
        for (const m of rx.receive(f, 'beacon', 0).messages) got.push(m.payload);
      }
      expect(got.map(hex)).toEqual([hex(payload)]);
      expect(rx.bytesHeld).toBe(0);
    }
  });

  it('version 3 headers leave a byte more of symbol in each frame of a beacon-sized message; a receiver takes both versions', () => {
    const payload = new Prng(31).bytes(600);
    const framing = (fragmentVersion: FragmentVersion) => ({ mtu: 115, integrity: 'crc16' as const, fragmentVersion });
    const v2 = new MessageEncoder(7, FrameType.HEADERS, payload, framing(2), 127);
    const v3 = new MessageEncoder(7, FrameType.HEADERS, payload, framing(3), 127);
    expect([v2.k, v2.symbolSize, v3.k, v3.symbolSize]).toEqual([6, 108, 6, 109]);
    for (const [enc, version] of [
      [v2, 2],
      [v3, 3],
    ] as const) {
      expect(enc.frame(0).length).toBe(115);
      expect(decodeFrame(enc.frame(0)).type).toBe(FRAGMENT_FRAME_TYPE[version]);
      const rx = new Reassembler({ integrity: 'crc16' });
      const got = [1, 2, 3, 4, 5, 6, 7].flatMap((i) => rx.receive(enc.frame(i), 'b', 0).messages.map((m) => [m.type, hex(m.payload)]));
      expect(got).toEqual([[FrameType.HEADERS, hex(payload)]]);
    }
  });

  it('sends a payload that fits as one plain frame of its own type', () => {
    const frames = new Fragmenter({ mtu: 51, integrity: 'crc16' }).fragment(FrameType.TIP, new Uint8Array(40));
    expect(frames).toHaveLength(1);
    expect(decodeFrame(frames[0]).type).toBe(FrameType.TIP);
  });

  it('keeps producing fresh repair symbols for carousel senders', () => {
    const rng = new Prng(31);
    const payload = rng.bytes(500);
    const enc = new Fragmenter({ mtu: 40, integrity: 'crc16' }).encoder(FrameType.BLOCK, payload);
    const rx = new Reassembler({ integrity: 'crc16' });
    const out: Uint8Array[] = [];
    // Only repair symbols, none of the source: still recovered from k of them (or one more).
    for (let i = enc.k; i < enc.k * 2 + 2 && out.length === 0; i++) {
      for (const m of rx.receive(enc.frame(i), 'b', 0).messages) out.push(m.payload);
    }
    expect(out.map(hex)).toEqual([hex(payload)]);
  });

  it('decodes a message heard only across two lossy repeats (the carousel keeps its id and sends new symbols)', () => {
    const rng = new Prng(32);
    const payload = rng.bytes(900);
    const frag = new Fragmenter({ mtu: 51, integrity: 'crc16' });
    const rx = new Reassembler({ integrity: 'crc16' });
    const first = frag.repeat(FrameType.HEADERS, payload, { repairRatio: 0.1 });
    frag.repeat(FrameType.TX, rng.bytes(300)); // another message between the two passes
    const second = frag.repeat(FrameType.HEADERS, payload, { repairRatio: 0.1 });
    expect(second.msgId).toBe(first.msgId);
    expect(second.pass).toBe(2);
    const k = first.frames.length - Math.ceil((first.frames.length / 1.1) * 0.1);
    // Each pass alone loses too much to decode (half of it); together they hold more than k.
    const got: string[] = [];
    let fromFirst = 0;
    first.frames.forEach((f, i) => {
      if (i % 2) return;
      fromFirst++;
      for (const m of rx.receive(f, 'b', 0).messages) got.push(hex(m.payload));
    });
    expect(fromFirst).toBeLessThan(k);
    expect(got).toEqual([]);
    expect(rx.partialCount).toBe(1);
    second.frames.forEach((f, i) => {
      if (i % 2 === 0) return;
      for (const m of rx.receive(f, 'b', 60_000).messages) got.push(hex(m.payload));
    });
    expect(got).toEqual([hex(payload)]);
    // Symbols of the second pass are new indexes, not copies of the first pass's.
    const idx = (f: Uint8Array) => hex(f.subarray(0, f.length - 2));
    expect(first.frames.map(idx).filter((x) => second.frames.map(idx).includes(x))).toEqual([]);
    expect(rx.bytesHeld).toBe(0);
  });

  it('sends a later pass as laterPassShare of k fresh symbols, which complete a receiver that lost a fifth of the first pass', () => {
    const rng = new Prng(33);
    const payload = rng.bytes(600);
    const frag = new Fragmenter({ mtu: 115, integrity: 'crc16' });
    const rx = new Reassembler({ integrity: 'crc16' });
    const first = frag.repeat(FrameType.HEADERS, payload, { repairRatio: 0, laterPassShare: 0.5 });
    const k = first.frames.length;
    const second = frag.repeat(FrameType.HEADERS, payload, { repairRatio: 0, laterPassShare: 0.5 });
    expect(second.frames).toHaveLength(Math.ceil(k / 2));
    expect(second.msgId).toBe(first.msgId);
    // One frame of the first pass lost: not decodable alone, complete with the short second pass.
    const got: string[] = [];
    first.frames.slice(1).forEach((f) => rx.receive(f, 'b', 0).messages.forEach((m) => got.push(hex(m.payload))));
    expect(got).toEqual([]);
    second.frames.forEach((f) => rx.receive(f, 'b', 1000).messages.forEach((m) => got.push(hex(m.payload))));
    expect(got).toEqual([hex(payload)]);
    // Without laterPassShare a later pass is a whole one again.
    expect(frag.repeat(FrameType.HEADERS, payload, { repairRatio: 0 }).frames).toHaveLength(k);
  });

  it('delivers a resent transaction again once k more of its symbols are heard, but ignores the late symbols of other repeats (frames.md 4.4)', () => {
    const rng = new Prng(34);
    const tx = rng.bytes(191);
    const batch = rng.bytes(400);
    const frag = new Fragmenter({ mtu: 51, integrity: 'crc16' }); // k = 5, 3 repair symbols a pass
    const counters = new Counters();
    const rx = new Reassembler({ integrity: 'crc16', redeliverTypes: [FrameType.TX], counters });
    const hear = (frames: Uint8Array[], now: number) =>
      frames.flatMap((f) => rx.receive(f, 'air', now).messages).map((m) => hex(m.payload));
    const first = frag.repeat(FrameType.TX, tx);
    expect(hear(first.frames, 0)).toEqual([hex(tx)]);
    // The resend keeps its msgId and continues the symbol indexes. Symbols heard after the first
    // decode start a new round, delivered again once k of them decode (here the 3 late ones of
    // the first pass and 2 of the resend, which loses every third frame): so a gateway whose
    // TXACK the air lost hears the resend and acknowledges again.
    const second = frag.repeat(FrameType.TX, tx);
    expect(second.msgId).toBe(first.msgId);
    expect(
      hear(
        second.frames.filter((_, i) => i % 3 !== 1),
        30_000,
      ),
    ).toEqual([hex(tx)]);
    expect(counters.get('reassembly.redelivered')).toBe(1);
    expect(counters.get('reassembly.late')).toBe(0);
    // A beacon batch heard twice is delivered once: its repeats only fill other receivers' gaps.
    expect(hear(frag.repeat(FrameType.HEADERS, batch).frames, 0)).toEqual([hex(batch)]);
    expect(hear(frag.repeat(FrameType.HEADERS, batch).frames, 1)).toEqual([]);
    expect(counters.get('reassembly.late')).toBeGreaterThan(0);
    // A reassembler without the option (or one answering with ACKs) delivers a resent transaction once.
    for (const other of [
      new Reassembler({ integrity: 'crc16' }),
      new Reassembler({ integrity: 'crc16', acks: true, redeliverTypes: [FrameType.TX] }),
    ]) {
      const f2 = new Fragmenter({ mtu: 51, integrity: 'crc16' });
      const got = [f2.repeat(FrameType.TX, tx), f2.repeat(FrameType.TX, tx)].flatMap((r) =>
        r.frames.flatMap((f) => other.receive(f, 'air', 0).messages),
      );
      expect(got).toHaveLength(1);
    }
    // What it holds is the transaction's next round (bounded like any partial message, expires).
    expect(rx.partialCount).toBe(1);
  });

  it('gives new content a new id, never one the carousel still repeats, and uses the smallest symbol for k', () => {
    const frag = new Fragmenter({ mtu: 51, integrity: 'crc16', carouselSize: 4 });
    const rng = new Prng(33);
    const ids = new Set<number>();
    const kept = Array.from({ length: 4 }, () => rng.bytes(200));
    for (const p of kept) ids.add(frag.repeat(FrameType.HEADERS, p).msgId!);
    // 300 one-shot messages wrap the 8-bit id space; none may take a repeating message's id.
    for (let i = 0; i < 300; i++) {
      const enc = frag.encoder(FrameType.TX, rng.bytes(100));
      expect(ids.has(enc.msgId)).toBe(false);
    }
    for (const p of kept) expect(ids.has(frag.repeat(FrameType.HEADERS, p).msgId!)).toBe(true);
    // 200 bytes + 2 length + 4 CRC = 206 bytes in k = 5 symbols of 42 (at most 43 fit): 4 bytes padding, not 9.
    const { frames } = frag.repeat(FrameType.HEADERS, rng.bytes(200), { repairRatio: 0 });
    expect(frames).toHaveLength(5);
    expect(new Set(frames.map((f) => f.length)).size).toBe(1);
    expect(frames[0].length).toBeLessThan(51);
  });

  it('refuses a message that would need more than 4096 fragments', () => {
    expect(() => new MessageEncoder(0, FrameType.BLOCK, new Uint8Array(100_000), { mtu: 20, integrity: 'crc32' })).toThrow(
      expect.objectContaining({ code: 'fragment-too-large' }),
    );
  });
});

describe('reassembly bounds', () => {
  function partialFrames(msgId: number, size: number, mtu = 100): Uint8Array[] {
    const enc = new MessageEncoder(msgId, FrameType.TX, new Prng(msgId).bytes(size), { mtu, integrity: 'none' });
    return Array.from({ length: enc.k - 1 }, (_, i) => enc.frame(i));
  }

  it('holds no more than its per-sender and total budgets, evicting the oldest partial', () => {
    const counters = new Counters();
    const rx = new Reassembler({ integrity: 'none', maxBytesPerSender: 20_000, maxBytesTotal: 50_000, counters });
    let now = 0;
    for (let id = 0; id < 30; id++) {
      for (const f of partialFrames(id, 3000)) {
        rx.receive(f, `s${id % 5}`, now++);
        expect(rx.bytesHeld).toBeLessThanOrEqual(50_000);
      }
    }
    expect(counters.get('reassembly.evicted')).toBeGreaterThan(0);
    expect(rx.bytesHeld).toBeLessThanOrEqual(50_000);
  });

  it('refuses a message larger than the per-sender budget without storing it', () => {
    const rx = new Reassembler({ integrity: 'none', maxBytesPerSender: 4000 });
    const r = rx.receive(partialFrames(1, 10_000)[0], 'a', 0);
    expect(r.dropped).toBe('message-too-large');
    expect(rx.bytesHeld).toBe(0);
  });

  it('refuses k above its limit', () => {
    const rx = new Reassembler({ integrity: 'none', maxK: 10 });
    expect(rx.receive(partialFrames(2, 5000)[0], 'a', 0).dropped).toBe('k-limit');
  });

  it('expires partial messages with the injected clock', () => {
    const rx = new Reassembler({ integrity: 'none', expiryMs: 1000 });
    for (const f of partialFrames(3, 2000)) rx.receive(f, 'a', 0);
    expect(rx.partialCount).toBe(1);
    expect(rx.nextExpiry()).toBe(1000);
    expect(rx.expire(999)).toBe(0);
    expect(rx.expire(1000)).toBe(1);
    expect(rx.bytesHeld).toBe(0);
  });

  it('does not mix fragments of a reused message id with a stale partial', () => {
    const rx = new Reassembler({ integrity: 'none' });
    for (const f of partialFrames(4, 2000)) rx.receive(f, 'a', 0);
    const fresh = new MessageEncoder(4, FrameType.TX, Uint8Array.from([1, 2, 3]), { mtu: 100, integrity: 'none' });
    const r = rx.receive(fresh.frame(0), 'a', 1);
    expect(r.messages.map((m) => hex(m.payload))).toEqual(['010203']);
  });

  it('keeps apart two stations whose messages share an id on one shared channel (one sender name), interleaved', () => {
    // Every gateway's fragmenter started at msgId 0: on the simulated air (one sender name,
    // 'air') a beacon's batch and another gateway's transaction, sent at once, both had id 0.
    // Each fragment of one replaced the other's partial, so neither ever decoded.
    const counters = new Counters();
    const rx = new Reassembler({ integrity: 'crc16', counters });
    const rng = new Prng(35);
    const tx = rng.bytes(191);
    const batch = rng.bytes(400);
    const a = new Fragmenter({ mtu: 51, integrity: 'crc16' }).repeat(FrameType.TX, tx);
    const b = new Fragmenter({ mtu: 51, integrity: 'crc16' }).repeat(FrameType.HEADERS, batch);
    expect(a.msgId).toBe(b.msgId);
    const got: string[] = [];
    for (let i = 0; i < Math.max(a.frames.length, b.frames.length); i++) {
      for (const f of [a.frames[i], b.frames[i]]) if (f) got.push(...rx.receive(f, 'air', i).messages.map((m) => hex(m.payload)));
    }
    expect(got.sort()).toEqual([hex(tx), hex(batch)].sort());
    expect(counters.get('reassembly.same-id')).toBeGreaterThan(0);
    expect(rx.bytesHeld).toBe(0);
  });

  it('counts and throws a typed error for malformed frames', () => {
    const counters = new Counters();
    const rx = new Reassembler({ integrity: 'crc16', counters });
    expect(() => rx.receive(Uint8Array.from([0x74, 1, 2]), 'a', 0)).toThrow(MalformedInputError);
    expect(counters.get('reassembly.malformed')).toBe(1);
  });

  it('rejects a reassembled message whose CRC-32 fails', () => {
    const enc = new MessageEncoder(5, FrameType.TX, new Uint8Array(300), { mtu: 60, integrity: 'none' });
    const rx = new Reassembler({ integrity: 'none' });
    let err: unknown;
    for (let i = 0; i < enc.k; i++) {
      const f = enc.frame(i);
      if (i === 1) f[f.length - 1] ^= 1; // corrupt a symbol on a link without integrity
      try {
        rx.receive(f, 'a', 0);
      } catch (e) {
        err = e;
      }
    }
    expect(err).toMatchObject({ code: 'fragment-unit-crc' });
  });
});

describe('duplex ARQ', () => {
  /** Runs sender and receiver over a lossy channel with a simulated clock; returns what arrived. */
  function simulate(seed: number, payloads: Uint8Array[], loss: number, mtu: number) {
    const rng = new Prng(seed);
    const integrity: Integrity = 'crc16';
    const tx = new ArqSender({ mtu, integrity, retransmitMs: 1000, maxRetries: 50 });
    const rx = new Reassembler({ integrity, acks: true });
    for (const p of payloads) tx.send(FrameType.TX, p);
    const got: string[] = [];
    const delivered: number[] = [];
    const failed: number[] = [];
    let now = 0;
    let sent = 0;
    for (let step = 0; step < 10_000; step++) {
      const out = tx.poll(now);
      delivered.push(...out.delivered);
      failed.push(...out.failed);
      for (const f of out.frames) {
        sent++;
        if (rng.chance(loss)) continue;
        const r = rx.receive(f, 'peer', now);
        got.push(...r.messages.map((m) => hex(m.payload)));
        for (const reply of r.replies) if (!rng.chance(loss)) tx.receive(reply, now);
      }
      if (out.wakeAt === null && tx.inFlightCount === 0) break;
      now = Math.max(now + 1, out.wakeAt ?? now + 1);
    }
    return { got, delivered, failed, sent };
  }

  it('delivers every message exactly once through 30% loss in both directions (property, seeded)', () => {
    const rng = new Prng(40);
    for (let trial = 0; trial < 20; trial++) {
      const payloads = Array.from({ length: rng.range(1, 6) }, () => rng.bytes(rng.range(1, 2000)));
      const r = simulate(100 + trial, payloads, 0.3, rng.range(20, 255));
      expect(r.failed).toEqual([]);
      expect(r.delivered.length).toBe(payloads.length);
      expect([...r.got].sort()).toEqual(payloads.map(hex).sort());
    }
  });

  it('gives up after maxRetries when nothing answers', () => {
    const tx = new ArqSender({ mtu: 50, integrity: 'none', retransmitMs: 100, maxRetries: 3 });
    const id = tx.send(FrameType.TX, new Uint8Array(10));
    let now = 0;
    let failed: number[] = [];
    let frames = 0;
    for (let i = 0; i < 20 && failed.length === 0; i++) {
      const out = tx.poll(now);
      frames += out.frames.length;
      failed = out.failed;
      now = out.wakeAt ?? now;
    }
    expect(failed).toEqual([id]);
    expect(frames).toBe(1 + 3);
  });

  it('ignores ACKs for unknown messages and rejects corrupt ones with a typed error', () => {
    const tx = new ArqSender({ mtu: 50, integrity: 'crc16', retransmitMs: 100 });
    expect(tx.receive(encodeFrame(FrameType.ACK, Uint8Array.from([9, 0]), { integrity: 'crc16' }), 0)).toBe(false);
    expect(() => tx.receive(Uint8Array.from([0x64, 9, 0, 0, 0]), 0)).toThrow(MalformedInputError);
  });
});
