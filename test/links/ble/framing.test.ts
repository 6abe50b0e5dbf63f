import { describe, expect, test } from 'vitest';
import { chunk, crc16ccitt, KissStreamDecoder, lengthPrefixEncode, LengthPrefixDecoder } from '../../../src/links/ble/framing.js';
import { kissData } from '../../../src/links/kiss/kiss.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('KISS over a BLE byte stream', () => {
  test('escapes FEND and FESC and frames a data command for port 0', () => {
    expect([...kissData(0, bytes(0x01, 0xc0, 0xdb, 0x02))]).toEqual([0xc0, 0x00, 0x01, 0xdb, 0xdc, 0xdb, 0xdd, 0x02, 0xc0]);
  });

  test('frames split at every byte boundary and packed back to back decode the same', () => {
    const frames = [bytes(0xc0, 0xdb, 1, 2, 3), bytes(9), bytes(...Array.from({ length: 40 }, (_, i) => (i * 37) & 0xff))];
    const stream = Uint8Array.from(frames.flatMap((f) => [...kissData(0, f)]));
    for (const size of [1, 2, 3, 7, 20, stream.length]) {
      const d = new KissStreamDecoder(64);
      const out = chunk(stream, size).flatMap((c) => d.push(c));
      expect(out).toEqual(frames);
      expect(d.problems).toEqual({ garbageBytes: 0, badFrames: 0, oversize: 0, nonData: 0 });
    }
  });

  test('garbage, bad escapes, oversize and non-data frames are dropped and counted', () => {
    const d = new KissStreamDecoder(4);
    const out = d.push(
      bytes(0x41, 0x42, 0xc0, 0x00, 0x01, 0xdb, 0x05, 0xc0, 0x00, 1, 2, 3, 4, 5, 0xc0, 0x06, 0x01, 0xc0, 0x00, 7, 8, 0xc0),
    );
    expect(out).toEqual([bytes(7, 8)]);
    expect(d.problems).toEqual({ garbageBytes: 2, badFrames: 1, oversize: 1, nonData: 1 });
  });

  test('reset forgets a partial frame', () => {
    const d = new KissStreamDecoder(16);
    d.push(bytes(0xc0, 0x00, 1, 2));
    d.reset();
    expect(d.push(bytes(3, 0xc0, 0x00, 4, 0xc0))).toEqual([bytes(4)]);
    expect(d.problems.garbageBytes).toBe(1);
  });
});

describe('length-prefixed framing for the Nordic UART Service', () => {
  test('CRC-16/CCITT-FALSE check value', () => {
    expect(crc16ccitt(new TextEncoder().encode('123456789'))).toBe(0x29b1);
  });

  test('layout: sync, big-endian length, payload, CRC over length and payload', () => {
    const wire = lengthPrefixEncode(bytes(0x10, 0x20));
    const crc = crc16ccitt(bytes(0x00, 0x02, 0x10, 0x20));
    expect([...wire]).toEqual([0xa5, 0x00, 0x02, 0x10, 0x20, crc >> 8, crc & 0xff]);
  });

  test('round trip through any split, with sync bytes inside payloads', () => {
    const frames = [bytes(0xa5, 0xa5, 0x00), bytes(), bytes(...Array.from({ length: 60 }, (_, i) => (i * 11) & 0xff))];
    const stream = Uint8Array.from(frames.flatMap((f) => [...lengthPrefixEncode(f)]));
    for (const size of [1, 5, 20, stream.length]) {
      const d = new LengthPrefixDecoder(64);
      expect(chunk(stream, size).flatMap((c) => d.push(c))).toEqual(frames);
    }
  });

  test('resynchronises after garbage, a damaged frame and an impossible length', () => {
    const good = lengthPrefixEncode(bytes(1, 2, 3));
    const damaged = lengthPrefixEncode(bytes(9, 9));
    damaged[4] ^= 0xff;
    const d = new LengthPrefixDecoder(16);
    const out = d.push(Uint8Array.from([0x00, 0x13, ...damaged, 0xa5, 0x7f, 0xff, ...good]));
    expect(out).toEqual([bytes(1, 2, 3)]);
    expect(d.problems.badFrames).toBe(1);
    expect(d.problems.oversize).toBe(1);
    expect(d.problems.garbageBytes).toBeGreaterThanOrEqual(2);
  });

  test('memory stays bounded under an endless stream of garbage', () => {
    const d = new LengthPrefixDecoder(32);
    for (let i = 0; i < 1000; i++) expect(d.push(Uint8Array.from({ length: 100 }, (_, k) => (k * 7 + i) & 0xff))).toBeDefined();
    // No frame can be longer than the limit, so what the decoder holds never exceeds it.
    expect((d as unknown as { buf: Uint8Array }).buf.length).toBe(32 + 5);
  });
});

test('chunk splits into pieces of at most the given size', () => {
  expect(chunk(bytes(1, 2, 3, 4, 5), 2).map((c) => [...c])).toEqual([[1, 2], [3, 4], [5]]);
  expect(() => chunk(bytes(1), 0)).toThrow(RangeError);
});
