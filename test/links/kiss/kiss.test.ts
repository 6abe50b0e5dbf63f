import { describe, expect, it } from 'vitest';
import {
  FEND,
  FESC,
  KissDecoder,
  kissData,
  kissEncodeRaw,
  kissFullDuplex,
  kissPersistence,
  kissReturn,
  kissSetHardware,
  kissSlotTime,
  kissTxDelay,
  kissTxTail,
  TFEND,
  TFESC,
} from '../../../src/links/kiss/kiss.js';
import { decodeAx25Ui, encodeAx25Ui, formatCallsign, parseCallsign } from '../../../src/links/kiss/ax25.js';
import { ConfigError, MalformedInputError } from '../../../src/util/errors.js';

describe('KISS framing', () => {
  it('escapes FEND and FESC and round-trips through the streaming decoder byte by byte', () => {
    const payload = Uint8Array.of(1, FEND, 2, FESC, 3, TFEND, TFESC);
    const wire = kissData(3, payload);
    expect([...wire]).toEqual([FEND, 0x30, 1, FESC, TFEND, 2, FESC, TFESC, 3, TFEND, TFESC, FEND]);
    const dec = new KissDecoder();
    const got = [...wire].flatMap((b) => dec.push(Uint8Array.of(b)));
    expect(got).toHaveLength(1);
    expect(got[0].port).toBe(3);
    expect(got[0].command).toBe(0);
    expect([...got[0].payload]).toEqual([...payload]);
  });

  it('encodes the TNC parameter commands with the port nibble', () => {
    expect([...kissTxDelay(0, 300)]).toEqual([FEND, 0x01, 30, FEND]);
    expect([...kissPersistence(1, 63)]).toEqual([FEND, 0x12, 63, FEND]);
    expect([...kissSlotTime(0, 100)]).toEqual([FEND, 0x03, 10, FEND]);
    expect([...kissTxTail(0, 20)]).toEqual([FEND, 0x04, 2, FEND]);
    expect([...kissFullDuplex(2, true)]).toEqual([FEND, 0x25, 1, FEND]);
    expect([...kissSetHardware(0, Uint8Array.of(9, 8))]).toEqual([FEND, 0x06, 9, 8, FEND]);
    expect([...kissReturn()]).toEqual([FEND, 0xff, FEND]);
    expect(() => kissTxDelay(0, 5000)).toThrow(RangeError);
    expect(() => kissData(16, new Uint8Array(1))).toThrow(RangeError);
  });

  it('skips noise, empty frames, bad escapes and oversized frames, and keeps decoding', () => {
    const errors: string[] = [];
    const dec = new KissDecoder({ maxFrameBytes: 8, onError: (c) => errors.push(c) });
    const stream = [
      Uint8Array.of(0x41, 0x42), // noise before any FEND
      Uint8Array.of(FEND, FEND, FEND), // sync / empty frames
      Uint8Array.of(0x00, FESC, 0x99, 0x55, FEND), // bad escape
      kissEncodeRaw(0x00, new Uint8Array(20)), // too long for 8
      kissData(0, Uint8Array.of(7, 7)),
    ];
    const frames = stream.flatMap((c) => dec.push(c));
    expect(frames.map((f) => [...f.payload])).toEqual([[7, 7]]);
    expect(errors).toEqual(['kiss-bad-escape', 'kiss-frame-too-long']);
  });
});

describe('AX.25 UI frames', () => {
  it('encodes addresses, control and PID per AX.25 2.2 and decodes them back', () => {
    const f = encodeAx25Ui({ destination: parseCallsign('ALTNET'), source: parseCallsign('n0call-7'), info: Uint8Array.of(0xde, 0xad) });
    // "ALTNET" shifted left, SSID byte 0xE0 (C bit set: command), "N0CALL" with SSID 7 and the end bit.
    expect(Buffer.from(f.subarray(0, 7)).toString('hex')).toBe('8298a89c8aa8e0');
    expect(f[13]).toBe(0x60 | (7 << 1) | 1);
    expect(f[14]).toBe(0x03);
    expect(f[15]).toBe(0xf0);
    const d = decodeAx25Ui(f);
    expect(formatCallsign(d.source)).toBe('N0CALL-7');
    expect(formatCallsign(d.destination)).toBe('ALTNET');
    expect(d.command).toBe(true);
    expect([...d.info]).toEqual([0xde, 0xad]);
  });

  it('carries digipeaters', () => {
    const f = encodeAx25Ui({
      destination: parseCallsign('ALTNET'),
      source: parseCallsign('N0CALL'),
      digipeaters: [parseCallsign('WIDE1-1'), parseCallsign('WIDE2-2')],
      info: new Uint8Array(0),
    });
    const d = decodeAx25Ui(f);
    expect(d.digipeaters.map(formatCallsign)).toEqual(['WIDE1-1', 'WIDE2-2']);
  });

  it('rejects malformed frames with typed errors and bad callsigns with ConfigError', () => {
    expect(() => decodeAx25Ui(new Uint8Array(5))).toThrow(MalformedInputError);
    const f = encodeAx25Ui({ destination: parseCallsign('ALTNET'), source: parseCallsign('N0CALL'), info: new Uint8Array(1) });
    const i = f.slice();
    i[14] = 0x00; // an I frame, not UI
    expect(() => decodeAx25Ui(i)).toThrow(/not a UI frame/);
    const bad = f.slice();
    bad[2] = 0x21 << 1; // '!' in a callsign
    expect(() => decodeAx25Ui(bad)).toThrow(MalformedInputError);
    expect(() => parseCallsign('TOOLONGCALL')).toThrow(ConfigError);
    expect(() => parseCallsign('N0CALL-16')).toThrow(ConfigError);
    expect(() => encodeAx25Ui({ destination: parseCallsign('A'), source: parseCallsign('B'), info: new Uint8Array(257) })).toThrow(
      RangeError,
    );
  });
});
