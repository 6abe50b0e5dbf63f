import { describe, expect, it } from 'vitest';
import { MalformedInputError } from '../../src/util/errors.js';
import { crc16, crc32 } from '../../src/codec/crc.js';
import {
  decodeAckBody,
  decodeFragmentBody,
  decodeFrame,
  decodeGetHeadersBody,
  decodeHeadersBody,
  encodeAckBody,
  encodeFragmentBody,
  encodeFrame,
  encodeGetHeadersBody,
  encodeHeadersBody,
  frameOverhead,
  FrameType,
  type Integrity,
} from '../../src/codec/frames.js';
import { Prng } from './prng.js';

const ascii = (s: string) => new TextEncoder().encode(s);

describe('integrity checks', () => {
  it('match the catalogue check values for "123456789"', () => {
    expect(crc16(ascii('123456789'))).toBe(0x29b1);
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
  });
});

describe('frames', () => {
  it('round-trip type, flags, sequence and body for every integrity mode', () => {
    const rng = new Prng(10);
    for (let i = 0; i < 500; i++) {
      const integrity = rng.pick<Integrity>(['none', 'crc16', 'crc32']);
      const type = rng.pick([1, 2, 3, 4, 5, 6, 7, 8, 14, 16, 200, 255]);
      const body = rng.bytes(rng.int(100));
      const poll = rng.chance(0.5);
      const seq = rng.chance(0.5) ? rng.int(256) : undefined;
      const bytes = encodeFrame(type, body, { integrity, poll, seq });
      expect(bytes.length).toBe(body.length + frameOverhead(type, { integrity, seq }));
      const f = decodeFrame(bytes, { integrity });
      expect(f.type).toBe(type);
      expect(f.poll).toBe(poll);
      expect(f.seq).toBe(seq);
      expect(f.integrity).toBe(integrity);
      expect(Buffer.from(f.body).equals(Buffer.from(body))).toBe(true);
    }
  });

  it('detects every single-bit error with CRC-16 and CRC-32', () => {
    for (const integrity of ['crc16', 'crc32'] as const) {
      const frame = encodeFrame(FrameType.TX, ascii('a transaction of some length'), { integrity });
      for (let bit = 0; bit < frame.length * 8; bit++) {
        const bad = Uint8Array.from(frame);
        bad[bit >> 3] ^= 0x80 >> (bit & 7);
        expect(() => decodeFrame(bad, { integrity })).toThrow(MalformedInputError);
      }
    }
  });

  it('rejects a frame whose integrity mode differs from the link setting', () => {
    const frame = encodeFrame(FrameType.TX, ascii('x'), { integrity: 'none' });
    expect(() => decodeFrame(frame, { integrity: 'crc16' })).toThrow(expect.objectContaining({ code: 'frame-integrity-mode' }));
  });

  it('refuses to encode reserved type values', () => {
    expect(() => encodeFrame(0, new Uint8Array(0), { integrity: 'none' })).toThrow(RangeError);
    expect(() => encodeFrame(15, new Uint8Array(0), { integrity: 'none' })).toThrow(RangeError);
  });
});

describe('frame bodies', () => {
  it('round-trip HEADERS, GETHEADERS, ACK and FRAGMENT bodies', () => {
    const h = decodeHeadersBody(
      encodeHeadersBody({ parentHeight: 830000, parentPrefix: Uint8Array.from([1, 2, 3, 4, 5]), stream: Uint8Array.from([9, 9]) }),
    );
    expect(h.parentHeight).toBe(830000);
    expect(Array.from(h.parentPrefix)).toEqual([1, 2, 3, 4]);
    expect(Array.from(h.stream)).toEqual([9, 9]);

    const locator = [
      { height: 5, prefix: Uint8Array.from([1, 2, 3, 4]) },
      { height: 1, prefix: Uint8Array.from([5, 6, 7, 8]) },
    ];
    const g = decodeGetHeadersBody(encodeGetHeadersBody({ locator, maxHeaders: 2000 }));
    expect(g.maxHeaders).toBe(2000);
    expect(g.locator.map((e) => [e.height, Array.from(e.prefix)])).toEqual([
      [5, [1, 2, 3, 4]],
      [1, [5, 6, 7, 8]],
    ]);

    expect(decodeAckBody(encodeAckBody({ msgId: 255, needed: 300 }))).toEqual({ msgId: 255, needed: 300 });

    const frag = decodeFragmentBody(
      encodeFragmentBody({ msgId: 1, innerType: FrameType.BLOCK, k: 4096, index: 16383, symbol: Uint8Array.from([7]) }),
    );
    expect([frag.msgId, frag.innerType, frag.k, frag.index, Array.from(frag.symbol)]).toEqual([1, FrameType.BLOCK, 4096, 16383, [7]]);
  });

  it('reject hostile fragment fields with stable codes', () => {
    const cases: [number[], string][] = [
      [[1, FrameType.TX, 0x81, 0x40, 0, 1], 'codec-range'], // k = 8193
      [[1, FrameType.TX, 0, 0, 1], 'fragment-k'],
      [[1, FrameType.FRAGMENT, 1, 0, 1], 'fragment-inner-type'],
      [[1, FrameType.TX, 1, 0], 'fragment-empty'],
      [[1, FrameType.TX, 1, 0xff, 0xff, 0x03, 1], 'codec-range'],
      [[1], 'codec-truncated'],
    ];
    for (const [bytes, code] of cases) {
      expect(() => decodeFragmentBody(Uint8Array.from(bytes)), code).toThrow(expect.objectContaining({ code }));
    }
    expect(() => decodeGetHeadersBody(Uint8Array.from([0]))).toThrow(expect.objectContaining({ code: 'getheaders-locator' }));
    expect(() => decodeGetHeadersBody(Uint8Array.from([17]))).toThrow(expect.objectContaining({ code: 'getheaders-locator' }));
    expect(() => decodeAckBody(Uint8Array.from([1, 0, 0]))).toThrow(expect.objectContaining({ code: 'codec-trailing-bytes' }));
  });
});

describe('header batches against a store', () => {
  it('finds the parent by height and prefix, and says so when it is missing', async () => {
    const { readFileSync } = await import('node:fs');
    const { SHARED_DATA } = await import('../harness/data.js');
    const { headerHash } = await import('../../src/chain/header.js');
    const { encodeHeadersMessage, decodeHeadersMessage } = await import('../../src/codec/frames.js');
    const file = new Uint8Array(readFileSync(SHARED_DATA.recentHeaders));
    const at = (i: number) => file.slice(i * 80, i * 80 + 80);
    const base = SHARED_DATA.recentFirstHeight;
    const store = new Map<number, Uint8Array>([[base + 10, at(10)]]);
    const find = (height: number, prefix: Uint8Array) => {
      const h = store.get(height);
      return h &&
        headerHash(h)
          .subarray(0, 4)
          .every((b, i) => b === prefix[i])
        ? h
        : undefined;
    };
    const body = encodeHeadersMessage([at(11), at(12)], { parent: at(10), parentHeight: base + 10 });
    const got = decodeHeadersMessage(body, find);
    expect(got.parentHeight).toBe(base + 10);
    expect(got.headers.map((h) => Buffer.from(h).toString('hex'))).toEqual([at(11), at(12)].map((h) => Buffer.from(h).toString('hex')));
    store.set(base + 10, at(20));
    expect(() => decodeHeadersMessage(body, find)).toThrow(expect.objectContaining({ code: 'headers-parent-unknown' }));
  });
});
