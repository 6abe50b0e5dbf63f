import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { NETWORKS } from '../../../src/chain/networks.js';
import { MAX_CONTENTS_LEN, MAX_GARBAGE_LEN } from '../../../src/node/v2/cipher.js';
import { SHORT_MESSAGE_IDS, decodeMessageContents, encodeMessageContents } from '../../../src/node/v2/messages.js';
import { V2Session } from '../../../src/node/v2/session.js';
import { detectTransport, v1Prefix } from '../../../src/node/v2/detect.js';
import type { V2Message } from '../../../src/node/v2/messages.js';
import { Counters } from '../../../src/util/counters.js';
import { AltnetError, MalformedInputError } from '../../../src/util/errors.js';

const REGTEST = NETWORKS.regtest.magic;
const MAIN = NETWORKS.main.magic;

/** Deterministic byte source: SHA-256 in counter mode over a seed. */
function seededRng(seed: string): (n: number) => Uint8Array {
  let counter = 0;
  let pool = new Uint8Array(0);
  return (n) => {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      if (pool.length === 0) pool = sha256(new TextEncoder().encode(`${seed}/${counter++}`));
      const take = Math.min(n - o, pool.length);
      out.set(pool.subarray(0, take), o);
      pool = pool.subarray(take);
      o += take;
    }
    return out;
  };
}

/** Splits bytes into chunks of random sizes (1..max), from a seeded source. */
function chunks(bytes: Uint8Array, rng: (n: number) => Uint8Array, max: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let o = 0;
  while (o < bytes.length) {
    const size = 1 + (((rng(2)[0] << 8) | rng(1)[0]) % max);
    out.push(bytes.subarray(o, o + size));
    o += size;
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

interface Pair {
  a: V2Session;
  b: V2Session;
  aGot: V2Message[];
  bGot: V2Message[];
  /** Delivers whatever is queued until both sides go quiet. */
  pump(maxChunk?: number): void;
  toA: Uint8Array[];
  toB: Uint8Array[];
  started: Uint8Array;
}

function pair(
  aOpts: Partial<ConstructorParameters<typeof V2Session>[0]> = {},
  bOpts: Partial<ConstructorParameters<typeof V2Session>[0]> = {},
  seed = 'pair',
): Pair {
  const a = new V2Session({ magic: REGTEST, role: 'initiator', rng: seededRng(seed + '/a'), ...aOpts });
  const b = new V2Session({ magic: REGTEST, role: 'responder', rng: seededRng(seed + '/b'), ...bOpts });
  const chunkRng = seededRng(seed + '/chunks');
  const p: Pair = {
    a,
    b,
    aGot: [],
    bGot: [],
    toA: [],
    toB: [a.start()],
    started: b.start(),
    pump(maxChunk = 1 << 16) {
      for (let rounds = 0; rounds < 20 && (p.toA.length || p.toB.length); rounds++) {
        const forB = concat(p.toB.splice(0));
        for (const c of chunks(forB, chunkRng, maxChunk)) {
          const r = b.receive(c);
          p.toA.push(...r.send);
          p.bGot.push(...r.messages);
        }
        const forA = concat(p.toA.splice(0));
        for (const c of chunks(forA, chunkRng, maxChunk)) {
          const r = a.receive(c);
          p.toB.push(...r.send);
          p.aGot.push(...r.messages);
        }
      }
    },
  };
  return p;
}

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('V2Session handshake', () => {
  it('completes between an initiator and a responder with random garbage and decoys, then carries messages both ways', () => {
    const counters = new Counters();
    const p = pair({ decoys: [0, 17, 300] }, { decoys: [5], counters: counters.scoped('b.') }, 'decoys');
    expect(p.a.state).toBe('key');
    expect(p.b.state).toBe('detecting');
    expect(p.a.canSend).toBe(false);
    p.pump(97);
    expect(p.a.state).toBe('ready');
    expect(p.b.state).toBe('ready');
    expect(p.a.sessionId).not.toBeNull();
    expect(Buffer.from(p.a.sessionId!).equals(Buffer.from(p.b.sessionId!))).toBe(true);
    // 3 decoys from a arrived and were dropped, no application message leaked out.
    expect(counters.get('b.decoys_received')).toBe(3);
    expect(p.bGot).toEqual([]);

    const version = new Uint8Array(102).fill(7);
    p.toB.push(p.a.encodeMessage('version', version), p.a.encodeDecoy(50), p.a.encodeMessage('headers', new Uint8Array([1, 2, 3])));
    p.toA.push(p.b.encodeMessage('verack', new Uint8Array(0)), p.b.encodeMessage('ping', new Uint8Array(8).fill(9)));
    p.pump(13);
    expect(p.bGot.map((m) => m.command)).toEqual(['version', 'headers']);
    expect(Buffer.from(p.bGot[0].payload).equals(Buffer.from(version))).toBe(true);
    expect([...p.bGot[1].payload]).toEqual([1, 2, 3]);
    expect(p.aGot.map((m) => m.command)).toEqual(['verack', 'ping']);
    expect([...p.aGot[1].payload]).toEqual(new Array(8).fill(9));
  });

  it('handles byte-at-a-time delivery and the largest garbage (4095 bytes) on both sides', () => {
    const p = pair({ garbageLen: MAX_GARBAGE_LEN }, { garbageLen: MAX_GARBAGE_LEN }, 'maxgarbage');
    p.pump(1);
    expect(p.a.state).toBe('ready');
    expect(p.b.state).toBe('ready');
    p.toB.push(p.a.encodeMessage('inv', new Uint8Array(37).fill(1)));
    p.pump(1);
    expect(p.bGot.map((m) => m.command)).toEqual(['inv']);
  });

  it('handles the whole handshake and messages arriving in one chunk, with no garbage', () => {
    const p = pair({ garbageLen: 0 }, { garbageLen: 0 }, 'onechunk');
    const r1 = p.b.receive(p.toB.splice(0)[0]);
    expect(r1.send.length).toBe(2); // key+garbage, then terminator+version
    const r2 = p.a.receive(concat(r1.send));
    expect(p.a.state).toBe('ready');
    // a's terminator+version and two messages in a single write
    const all = concat([
      ...r2.send,
      p.a.encodeMessage('getheaders', new Uint8Array(69)),
      p.a.encodeMessage('sendheaders', new Uint8Array(0)),
    ]);
    const r3 = p.b.receive(all);
    expect(p.b.state).toBe('ready');
    expect(r3.messages.map((m) => m.command)).toEqual(['getheaders', 'sendheaders']);
  });

  it('keeps working across several rekeys (224 packets each) in both directions', () => {
    const p = pair({}, {}, 'rekey');
    p.pump();
    for (let i = 0; i < 700; i++) p.toB.push(p.a.encodeMessage('ping', new Uint8Array(8).fill(i & 0xff)));
    for (let i = 0; i < 500; i++) p.toA.push(p.b.encodeMessage('pong', new Uint8Array(8).fill(i & 0xff)));
    p.pump(1000);
    expect(p.bGot.length).toBe(700);
    expect(p.aGot.length).toBe(500);
    expect(p.bGot[699].payload[0]).toBe(699 & 0xff);
    expect(p.aGot[499].payload[0]).toBe(499 & 0xff);
  });

  it('carries a 4,000,000-byte payload, the largest Bitcoin Core accepts', () => {
    const p = pair({}, {}, 'big');
    p.pump();
    const block = new Uint8Array(4_000_000);
    for (let i = 0; i < block.length; i += 4096) block[i] = i & 0xff;
    p.toB.push(p.a.encodeMessage('block', block));
    p.pump(65536);
    expect(p.bGot.length).toBe(1);
    expect(Buffer.from(p.bGot[0].payload).equals(Buffer.from(block))).toBe(true);
    expect(() => p.a.encodeMessage('block', new Uint8Array(4_000_001))).toThrow(RangeError);
  });

  it('interoperates across AEAD backends (noble <-> node:crypto) and both reject tampering', () => {
    const p = pair({ aead: 'node', decoys: [3] }, { aead: 'noble', decoys: [4] }, 'backends');
    p.pump(300);
    expect(p.a.state).toBe('ready');
    expect(p.b.state).toBe('ready');
    const big = new Uint8Array(300_000).fill(0xab);
    p.toB.push(p.a.encodeMessage('block', big));
    p.toA.push(p.b.encodeMessage('block', big));
    p.pump(7000);
    expect(p.aGot.length).toBe(1);
    expect(p.bGot.length).toBe(1);
    expect(Buffer.from(p.aGot[0].payload).equals(Buffer.from(big))).toBe(true);
    const bad = p.b.encodeMessage('ping', new Uint8Array(8));
    bad[bad.length - 1] ^= 1; // last tag byte
    expect((catchErr(() => p.a.receive(bad)) as MalformedInputError).code).toBe('bip324.bad_tag');
  });

  it('is reproducible from an injected random source', () => {
    const x = new V2Session({ magic: REGTEST, role: 'initiator', rng: seededRng('same') }).start();
    const y = new V2Session({ magic: REGTEST, role: 'initiator', rng: seededRng('same') }).start();
    const z = new V2Session({ magic: REGTEST, role: 'initiator', rng: seededRng('other') }).start();
    expect(Buffer.from(x).equals(Buffer.from(y))).toBe(true);
    expect(Buffer.from(x).equals(Buffer.from(z))).toBe(false);
    expect(x.length).toBeGreaterThanOrEqual(64);
    expect(x.length).toBeLessThanOrEqual(64 + MAX_GARBAGE_LEN);
  });

  it('an initiator that receives before start() still sends its key first', () => {
    const a = new V2Session({ magic: REGTEST, role: 'initiator', rng: seededRng('nostart'), garbageLen: 3 });
    const r = a.receive(new Uint8Array(10));
    expect(r.send.length).toBe(1);
    expect(Buffer.from(r.send[0].subarray(0, 64)).equals(Buffer.from(a.ellswift))).toBe(true);
    expect(r.send[0].length).toBe(67);
  });

  it('refuses to send application messages before its version packet is out', () => {
    const s = new V2Session({ magic: REGTEST, role: 'initiator', rng: seededRng('early') });
    s.start();
    const err = catchErr(() => s.encodeMessage('ping', new Uint8Array(8)));
    expect(err).toBeInstanceOf(AltnetError);
    expect((err as AltnetError).code).toBe('bip324.not_ready');
  });

  it('rejects a bad garbage length at construction', () => {
    expect(() => new V2Session({ magic: REGTEST, role: 'initiator', garbageLen: 4096 })).toThrow(/0\.\.4095/);
  });
});

describe('V2Session malformed input', () => {
  it('rejects a tampered packet with bip324.bad_tag, counts it, and stays failed', () => {
    const counters = new Counters();
    const p = pair({}, { counters }, 'tamper');
    p.pump();
    const pkt = p.a.encodeMessage('headers', new Uint8Array(81).fill(3));
    pkt[10] ^= 0x01;
    const err = catchErr(() => p.b.receive(pkt));
    expect(err).toBeInstanceOf(MalformedInputError);
    expect((err as MalformedInputError).code).toBe('bip324.bad_tag');
    expect(counters.get('error.bip324.bad_tag')).toBe(1);
    expect(p.b.state).toBe('failed');
    const again = catchErr(() => p.b.receive(new Uint8Array(1)));
    expect((again as MalformedInputError).code).toBe('bip324.session_failed');
  });

  it('rejects tampered garbage: the version packet authenticates it', () => {
    const p = pair({ garbageLen: 40 }, {}, 'garbage-tamper');
    const first = p.toB[0];
    first[64 + 5] ^= 0x80; // inside the initiator's garbage
    const err = catchErr(() => p.pump());
    expect((err as MalformedInputError).code).toBe('bip324.bad_tag');
    expect(p.b.state).toBe('failed');
  });

  it('rejects an oversized length as soon as the 3 length bytes arrive, without waiting for or buffering the body', () => {
    const p = pair({}, {}, 'oversized');
    p.pump();
    const pkt = p.a.encodeMessage('tx', new Uint8Array(10));
    // Lengths are a XOR stream: flipping the top byte announces >= 2^23 bytes of contents.
    pkt[2] ^= 0xff;
    const err = catchErr(() => p.b.receive(pkt.subarray(0, 3)));
    expect(err).toBeInstanceOf(MalformedInputError);
    expect((err as MalformedInputError).code).toBe('bip324.packet_too_large');
    expect((err as Error).message).toContain(String(MAX_CONTENTS_LEN));
  });

  it('gives up when no garbage terminator shows up within 4095 + 16 bytes', () => {
    const b = new V2Session({ magic: REGTEST, role: 'responder', rng: seededRng('noterm-b') });
    b.start();
    const a = new V2Session({ magic: REGTEST, role: 'initiator', rng: seededRng('noterm-a'), garbageLen: 0 });
    b.receive(a.start());
    expect(b.state).toBe('garbage');
    const junk = seededRng('junk')(MAX_GARBAGE_LEN + 16);
    expect(() => b.receive(junk.subarray(0, MAX_GARBAGE_LEN + 15))).not.toThrow();
    expect(b.state).toBe('garbage');
    const err = catchErr(() => b.receive(junk.subarray(MAX_GARBAGE_LEN + 15)));
    expect((err as MalformedInputError).code).toBe('bip324.no_garbage_terminator');
  });

  it('finds no terminator when the peer uses another network magic (keys differ)', () => {
    const p = pair({ magic: MAIN, garbageLen: 10 }, { garbageLen: 10 }, 'wrongnet');
    p.pump();
    expect(p.a.state).toBe('garbage');
    expect(p.b.state).toBe('garbage');
  });

  it('rejects a v1 version message sent with another network magic', () => {
    const b = new V2Session({ magic: REGTEST, role: 'responder', rng: seededRng('v1wrong') });
    b.start();
    const err = catchErr(() => b.receive(v1Prefix(MAIN)));
    expect((err as MalformedInputError).code).toBe('bip324.v1_wrong_network');
  });
});

describe('V2Session on random input', () => {
  const LIMIT = 1 + MAX_CONTENTS_LEN + 16;

  it('a responder fed random bytes only ever waits or throws MalformedInputError, within bounded buffers', () => {
    const rng = seededRng('fuzz-responder');
    const outcomes = new Map<string, number>();
    for (let trial = 0; trial < 40; trial++) {
      const b = new V2Session({ magic: REGTEST, role: 'responder', rng: seededRng(`fuzz-b-${trial}`) });
      b.start();
      const r = rng(3);
      const input = rng(((r[0] << 8) | r[1]) % 6000);
      let outcome = 'waiting';
      try {
        for (const c of chunks(input, rng, 1 + (r[2] % 700))) {
          b.receive(c);
          expect(b.bufferedBytes).toBeLessThanOrEqual(MAX_GARBAGE_LEN + 16);
        }
      } catch (err) {
        expect(err).toBeInstanceOf(MalformedInputError);
        outcome = (err as MalformedInputError).code;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    expect([...outcomes.keys()].every((k) => k === 'waiting' || k === 'bip324.no_garbage_terminator')).toBe(true);
    expect(outcomes.get('bip324.no_garbage_terminator')).toBeGreaterThan(0);
  });

  it('after the handshake random bytes end in bad_tag or packet_too_large, never anything else', () => {
    const rng = seededRng('fuzz-packets');
    const codes = new Set<string>();
    for (let trial = 0; trial < 30; trial++) {
      const p = pair({}, {}, `fuzz-${trial}`);
      p.pump();
      let thrown: unknown;
      try {
        for (let i = 0; i < 50 && thrown === undefined; i++) {
          p.b.receive(rng(1 + (rng(1)[0] % 200)));
          expect(p.b.bufferedBytes).toBeLessThanOrEqual(LIMIT);
        }
      } catch (err) {
        thrown = err;
      }
      if (thrown !== undefined) {
        expect(thrown).toBeInstanceOf(MalformedInputError);
        codes.add((thrown as MalformedInputError).code);
      }
    }
    expect([...codes].every((c) => c === 'bip324.bad_tag' || c === 'bip324.packet_too_large')).toBe(true);
    expect(codes.size).toBeGreaterThan(0);
  });
});

describe('v1 detection', () => {
  it('detectTransport tells v1 from v2 from the first bytes', () => {
    const v1 = v1Prefix(REGTEST);
    expect([...v1.subarray(0, 4)]).toEqual([0xfa, 0xbf, 0xb5, 0xda]);
    expect(new TextDecoder().decode(v1.subarray(4, 11))).toBe('version');
    expect([...v1.subarray(11)]).toEqual([0, 0, 0, 0, 0]);
    expect(detectTransport(REGTEST, v1)).toBe('v1');
    expect(detectTransport(REGTEST, v1.subarray(0, 15))).toBe('undecided');
    expect(detectTransport(REGTEST, new Uint8Array(0))).toBe('undecided');
    expect(detectTransport(REGTEST, Uint8Array.of(0xfa, 0x00))).toBe('v2');
    expect(detectTransport(MAIN, v1)).toBe('v2');
    const verack = Uint8Array.from(v1);
    verack.set(new TextEncoder().encode('verack\0'), 4);
    expect(detectTransport(REGTEST, verack)).toBe('v2');
  });

  it('a responder hands every byte of a v1 peer back, even split across calls', () => {
    const counters = new Counters();
    const b = new V2Session({ magic: REGTEST, role: 'responder', rng: seededRng('v1'), counters });
    expect(b.start().length).toBe(0);
    const v1msg = concat([v1Prefix(REGTEST), new Uint8Array([102, 0, 0, 0, 1, 2, 3, 4]), new Uint8Array(102)]);
    const r1 = b.receive(v1msg.subarray(0, 7));
    expect(r1.send).toEqual([]);
    expect(r1.v1).toBeUndefined();
    expect(b.state).toBe('detecting');
    const r2 = b.receive(v1msg.subarray(7));
    expect(b.state).toBe('v1');
    expect(r2.send).toEqual([]);
    expect(Buffer.from(r2.v1!).equals(Buffer.from(v1msg))).toBe(true);
    expect(counters.get('v1_detected')).toBe(1);
    expect(() => b.receive(new Uint8Array(1))).toThrow(/v1/);
  });

  it('a responder answers a v2 peer as soon as the first byte rules out v1', () => {
    const b = new V2Session({ magic: REGTEST, role: 'responder', rng: seededRng('early-v2') });
    b.start();
    const r = b.receive(Uint8Array.of(0x00));
    expect(b.state).toBe('key');
    expect(r.send.length).toBe(1);
    expect(r.send[0].length).toBeGreaterThanOrEqual(64);
  });
});

describe('v2 message types', () => {
  it('uses the BIP324 short ids for the table and the 13-byte long form otherwise', () => {
    expect(SHORT_MESSAGE_IDS[1]).toBe('addr');
    expect(SHORT_MESSAGE_IDS[13]).toBe('headers');
    expect(SHORT_MESSAGE_IDS[21]).toBe('tx');
    expect(SHORT_MESSAGE_IDS[28]).toBe('addrv2');
    expect(SHORT_MESSAGE_IDS[29]).toBe('reqrecon');
    expect(SHORT_MESSAGE_IDS.length).toBe(33);
    expect([...encodeMessageContents('headers', Uint8Array.of(9))]).toEqual([13, 9]);
    expect([...encodeMessageContents('ping', new Uint8Array(0))]).toEqual([18]);
    const v = encodeMessageContents('version', Uint8Array.of(1));
    expect(v.length).toBe(14);
    expect(v[0]).toBe(0);
    expect(new TextDecoder().decode(v.subarray(1, 8))).toBe('version');
    expect([...v.subarray(8)]).toEqual([0, 0, 0, 0, 0, 1]);
    // Erlay ids are sent long-form: Bitcoin Core 30 drops short ids above 28.
    expect(encodeMessageContents('reqrecon', new Uint8Array(0))[0]).toBe(0);
    for (const name of ['verack', 'sendheaders', 'wtxidrelay', 'sendaddrv2', 'block', 'getdata']) {
      const m = decodeMessageContents(encodeMessageContents(name, Uint8Array.of(5, 6)));
      expect(m?.command).toBe(name);
      expect([...m!.payload]).toEqual([5, 6]);
    }
    expect(() => encodeMessageContents('much-too-long-name', new Uint8Array(0))).toThrow(RangeError);
  });

  it('drops unknown short ids (counted) and rejects malformed long forms', () => {
    expect(decodeMessageContents(Uint8Array.of(33, 1, 2))).toBeNull();
    expect(decodeMessageContents(Uint8Array.of(255))).toBeNull();
    const code = (c: Uint8Array) => (catchErr(() => decodeMessageContents(c)) as MalformedInputError).code;
    expect(code(new Uint8Array(0))).toBe('bip324.empty_message');
    expect(code(new Uint8Array(5))).toBe('bip324.short_command');
    expect(code(new Uint8Array(13))).toBe('bip324.bad_command'); // empty command
    const gap = new Uint8Array(13);
    gap.set([0x61, 0, 0x62], 1); // "a\0b"
    expect(code(gap)).toBe('bip324.bad_command');
  });
});
