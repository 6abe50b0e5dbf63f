import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { headerHash } from '../../src/chain/header.js';
import { writeU32LE } from '../../src/util/bytes.js';
import { InvalidDataError, MalformedInputError } from '../../src/util/errors.js';
import { encodeFrame, FrameType } from '../../src/codec/frames.js';
import {
  bitsRuleFor,
  buildCanonicalCode,
  decodeHeaderStream,
  decodeTip,
  encodeHeaderStream,
  encodeTip,
  resolveTip,
  VERSION_CODE_LENGTHS,
} from '../../src/codec/headers.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { SHARED_DATA } from '../harness/data.js';
import { randomChain } from './gen.js';
import { Prng } from './prng.js';

/** One hex string per list: far cheaper for vitest to compare than thousands of arrays. */
function hexAll(list: Uint8Array[]): string {
  return list.map((h) => Buffer.from(h).toString('hex')).join(',');
}

function load(path: string): Uint8Array[] {
  const file = new Uint8Array(readFileSync(path));
  const out: Uint8Array[] = [];
  for (let o = 0; o < file.length; o += 80) out.push(file.slice(o, o + 80));
  return out;
}

const recent = load(SHARED_DATA.recentHeaders);
const early = load(SHARED_DATA.genesisEraHeaders);

describe('header stream mode', () => {
  it('round-trips every header of the shared mainnet file within 39.5 bytes per header', () => {
    const ctx = { parent: recent[0], parentHeight: SHARED_DATA.recentFirstHeight };
    const encoded = encodeHeaderStream(recent.slice(1), ctx);
    const decoded = decodeHeaderStream(encoded, ctx);
    expect(hexAll(decoded)).toBe(hexAll(recent.slice(1)));
    expect(encoded.length / (recent.length - 1)).toBeLessThanOrEqual(39.5);
  });

  it('round-trips the first 10,000 mainnet headers (version 1 era, four retargets)', () => {
    const ctx = { parent: early[0], parentHeight: 0 };
    const encoded = encodeHeaderStream(early.slice(1), ctx);
    expect(hexAll(decodeHeaderStream(encoded, ctx))).toBe(hexAll(early.slice(1)));
    expect(encoded.length / (early.length - 1)).toBeLessThan(40);
  });

  it('round-trips every batch cut of a real stretch, whatever the start', () => {
    for (const start of [0, 1, 2015, 2016, 2017, 4000]) {
      const ctx = { parent: recent[start], parentHeight: SHARED_DATA.recentFirstHeight + start };
      const batch = recent.slice(start + 1, start + 30);
      expect(hexAll(decodeHeaderStream(encodeHeaderStream(batch, ctx), ctx))).toBe(hexAll(batch));
    }
  });

  it('round-trips random chains with wild fields under both nBits rules (property, seeded)', () => {
    const rng = new Prng(1);
    for (let trial = 0; trial < 200; trial++) {
      const parent = rng.bytes(80);
      const parentHeight = rng.range(0, 2_000_000);
      const chain = randomChain(rng, parent, rng.range(0, 40), { wild: trial % 2 === 0 });
      for (const bitsRule of ['retarget', 'every'] as const) {
        const ctx = { parent, parentHeight, bitsRule };
        const enc = encodeHeaderStream(chain, ctx);
        expect(hexAll(decodeHeaderStream(enc, ctx))).toBe(hexAll(chain));
      }
    }
  });

  it('codes nBits only with a flag at retarget heights and by escape elsewhere', () => {
    const parent = recent[2015]; // height 824543; next header is the retarget at 824544
    const ctx = { parent, parentHeight: 824543 };
    const [h] = [recent[2016]];
    expect(hexAll(decodeHeaderStream(encodeHeaderStream([h], ctx), ctx))).toBe(hexAll([h]));
    // Same header pretending to sit one block later: the changed nBits needs the escape.
    const ctxOff = { parent, parentHeight: 824544 };
    const escaped = encodeHeaderStream([h], ctxOff);
    expect(escaped.length).toBeGreaterThan(encodeHeaderStream([h], ctx).length + 2);
    expect(hexAll(decodeHeaderStream(escaped, ctxOff))).toBe(hexAll([h]));
  });

  it('maps networks to nBits rules', () => {
    expect(bitsRuleFor(NETWORKS.main)).toBe('retarget');
    expect(bitsRuleFor(NETWORKS.signet)).toBe('retarget');
    expect(bitsRuleFor(NETWORKS.testnet4)).toBe('every');
    expect(bitsRuleFor(NETWORKS.regtest)).toBe('every');
  });

  it('refuses to code headers that do not follow each other', () => {
    const ctx = { parent: recent[0], parentHeight: SHARED_DATA.recentFirstHeight };
    expect(() => encodeHeaderStream([recent[2]], ctx)).toThrow(InvalidDataError);
  });

  it('decodes against a wrong parent into headers that do not link to the real chain', () => {
    const enc = encodeHeaderStream(recent.slice(1, 3), { parent: recent[0], parentHeight: SHARED_DATA.recentFirstHeight });
    const wrong = decodeHeaderStream(enc, { parent: recent[5], parentHeight: SHARED_DATA.recentFirstHeight });
    expect(wrong[0]).not.toEqual(recent[1]);
  });

  it('uses a complete prefix code for version symbols', () => {
    let kraft = 0;
    for (const l of VERSION_CODE_LENGTHS) kraft += 2 ** -l;
    expect(kraft).toBe(1);
    const code = buildCanonicalCode([2, 1, 3, 3]);
    expect(Array.from(code.codes)).toEqual([0b10, 0b0, 0b110, 0b111]);
  });
});

describe('header stream decoder on hostile input', () => {
  const ctx = { parent: recent[0], parentHeight: SHARED_DATA.recentFirstHeight };
  const good = encodeHeaderStream(recent.slice(1, 21), ctx);

  it('rejects every truncation with a typed error', () => {
    for (let n = 0; n < good.length; n++) {
      expect(() => decodeHeaderStream(good.subarray(0, n), ctx)).toThrow(MalformedInputError);
    }
  });

  it('rejects a count of 4 billion before allocating anything', () => {
    const hostile = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]);
    expect(() => decodeHeaderStream(hostile, ctx)).toThrow(expect.objectContaining({ code: 'codec-range' }));
    expect(() => decodeHeaderStream(hostile, ctx, { maxHeaders: 0xffffffff })).toThrow(
      expect.objectContaining({ code: 'codec-truncated' }),
    );
  });

  it('never throws anything but MalformedInputError on random and mutated streams', () => {
    const rng = new Prng(2);
    for (let i = 0; i < 5000; i++) {
      const input = i % 2 ? rng.bytes(rng.int(200)) : Uint8Array.from(good);
      if (i % 2 === 0) for (let m = rng.range(1, 4); m > 0; m--) input[rng.int(input.length)] ^= 1 << rng.int(8);
      try {
        decodeHeaderStream(input, ctx);
      } catch (err) {
        expect(err).toBeInstanceOf(MalformedInputError);
      }
    }
  });
});

describe('standalone tip', () => {
  it('round-trips every shared header as a tip and fits a 51-byte LoRa payload with CRC-16', () => {
    let max = 0;
    for (let i = 1; i < recent.length; i++) {
      const height = SHARED_DATA.recentFirstHeight + i;
      const body = encodeTip({ header: recent[i], height, parent: recent[i - 1] });
      const frame = encodeFrame(FrameType.TIP, body, { integrity: 'crc16' });
      max = Math.max(max, frame.length);
      const tip = decodeTip(body);
      expect(tip.height).toBe(height);
      if (Buffer.compare(resolveTip(tip, recent[i - 1]), recent[i]) !== 0) expect.fail(`tip ${height} did not round-trip`);
    }
    expect(max).toBeLessThanOrEqual(51);
  });

  it('names the parent by a hash prefix and refuses a parent that does not match', () => {
    const body = encodeTip({ header: recent[10], height: SHARED_DATA.recentFirstHeight + 10, parent: recent[9] });
    const tip = decodeTip(body);
    expect(tip.parentPrefix[0]).toBe(headerHash(recent[9])[0]);
    const other = recent.slice(1).find((h) => headerHash(h)[0] !== tip.parentPrefix[0])!;
    expect(() => resolveTip(tip, other)).toThrow(expect.objectContaining({ code: 'tip-parent-mismatch' }));
  });

  it('round-trips random tips with wild fields (property, seeded)', () => {
    const rng = new Prng(3);
    for (let i = 0; i < 500; i++) {
      const parent = rng.bytes(80);
      const [header] = randomChain(rng, parent, 1, { wild: true });
      const height = rng.range(1, 0xffffffff);
      expect(resolveTip(decodeTip(encodeTip({ header, height, parent })), parent)).toEqual(header);
    }
  });

  it('a decoded time outside 32 bits is a typed error, not a wrapped value', () => {
    const parent = new Uint8Array(80);
    writeU32LE(parent, 68, 0xffffff00);
    const header = new Uint8Array(80);
    header.set(headerHash(parent), 4);
    writeU32LE(header, 68, 0xffffff10);
    const tip = decodeTip(encodeTip({ header, height: 5, parent }));
    expect(resolveTip(tip, parent)).toEqual(header);
    const lowParent = Uint8Array.from(parent);
    writeU32LE(lowParent, 68, 0xfffffff0);
    // Prefix check first: make the prefix match by construction.
    const t2 = { ...tip, parentPrefix: headerHash(lowParent).slice(0, 1) };
    expect(() => resolveTip(t2, lowParent)).toThrow(expect.objectContaining({ code: 'headers-time' }));
  });

  it('rejects truncated and padded tips with typed errors', () => {
    const body = encodeTip({ header: recent[10], height: SHARED_DATA.recentFirstHeight + 10, parent: recent[9] });
    for (let n = 0; n < body.length; n++) expect(() => decodeTip(body.subarray(0, n))).toThrow(MalformedInputError);
    const padded = new Uint8Array(body.length + 1);
    padded.set(body);
    expect(() => decodeTip(padded)).toThrow(expect.objectContaining({ code: 'codec-trailing-bytes' }));
  });
});
