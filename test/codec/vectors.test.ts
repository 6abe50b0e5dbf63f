// The TypeScript codec must reproduce codecs/*.vectors.json exactly, both ways.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { crc16, crc32 } from '../../src/codec/crc.js';
import { encodingRow, fountainParams, GF_EXP, GF_POLY, hdpcMatrix, ldpcRows, SALT_EXCEPTIONS } from '../../src/codec/fec.js';
import {
  decodeFragmentBody,
  decodeFrame,
  decodeTxAckBody,
  encodeFragmentBody,
  encodeFrame,
  encodeTxAckBody,
  FRAGMENT_FRAME_TYPE,
  fragmentHeaderLength,
  fragmentVersionOf,
  type FragmentVersion,
  FrameType,
  type Integrity,
} from '../../src/codec/frames.js';
import { MessageEncoder, Reassembler } from '../../src/codec/fragment.js';
import {
  decodeHeaderStream,
  decodeTip,
  encodeHeaderStream,
  encodeTip,
  resolveTip,
  VERSION_CODE_LENGTHS,
  type BitsRule,
} from '../../src/codec/headers.js';
import { REPO_ROOT } from '../harness/data.js';

const headersV = JSON.parse(readFileSync(resolve(REPO_ROOT, 'codecs/headers.vectors.json'), 'utf8'));
const framesV = JSON.parse(readFileSync(resolve(REPO_ROOT, 'codecs/frames.vectors.json'), 'utf8'));

interface Ctx {
  parent: string;
  parentHeight: number;
  bitsRule: BitsRule;
}
const ctxOf = (c: Ctx) => ({ parent: fromHex(c.parent), parentHeight: c.parentHeight, bitsRule: c.bitsRule });

describe('codecs/headers.vectors.json', () => {
  it('has the version code table the code uses', () => {
    expect(headersV.versionCodeLengths).toEqual([...VERSION_CODE_LENGTHS]);
  });

  for (const v of headersV.stream) {
    it(`stream: ${v.name}`, () => {
      const headers = v.headers.map(fromHex);
      expect(toHex(encodeHeaderStream(headers, ctxOf(v.context)))).toBe(v.encoded);
      expect(decodeHeaderStream(fromHex(v.encoded), ctxOf(v.context)).map(toHex)).toEqual(v.headers);
    });
  }

  for (const v of headersV.tip) {
    it(`tip: ${v.name}`, () => {
      const header = fromHex(v.header);
      const parent = fromHex(v.parent);
      expect(toHex(encodeTip({ header, height: v.height, parent }))).toBe(v.encoded);
      const tip = decodeTip(fromHex(v.encoded));
      expect({ height: tip.height, parentPrefix: toHex(tip.parentPrefix), fields: JSON.parse(JSON.stringify(tip.fields)) }).toEqual(
        v.decoded,
      );
      expect(toHex(resolveTip(tip, parent))).toBe(v.header);
      const frame = decodeFrame(fromHex(v.frameCrc16), { integrity: 'crc16' });
      expect(toHex(frame.body)).toBe(v.encoded);
    });
  }

  for (const v of headersV.invalidStream) {
    it(`invalid stream: ${v.name}`, () => {
      expect(() => decodeHeaderStream(fromHex(v.encoded), ctxOf(v.context))).toThrow(expect.objectContaining({ code: v.error }));
    });
  }
});

describe('codecs/frames.vectors.json', () => {
  it('CRC check values', () => {
    const input = fromHex(framesV.crc.input);
    expect(crc16(input)).toBe(framesV.crc.crc16);
    expect(crc32(input)).toBe(framesV.crc.crc32);
  });

  it('GF(256) and the fountain code rows (version 2)', () => {
    expect(GF_POLY).toBe(framesV.gf256.poly);
    expect(Array.from(GF_EXP.subarray(0, 16))).toEqual(framesV.gf256.expFirst16);
    const f = framesV.fountain;
    for (const p of f.params) expect(fountainParams(p.k)).toEqual(p);
    expect([...SALT_EXCEPTIONS]).toEqual(f.saltExceptions);
    for (const r of f.encodingRows) expect(encodingRow(fountainParams(r.k), r.x)).toEqual(r.columns);
    expect(ldpcRows(fountainParams(f.ldpc.k))).toEqual(f.ldpc.rows);
    expect(hdpcMatrix(fountainParams(f.hdpc.k)).map(toHex)).toEqual(f.hdpc.rows);
  });

  for (const v of framesV.frames) {
    it(`frame: ${v.name}`, () => {
      const opts = { integrity: v.integrity as Integrity, poll: v.poll, seq: v.seq ?? undefined };
      expect(toHex(encodeFrame(v.type, fromHex(v.body), opts))).toBe(v.frame);
      const f = decodeFrame(fromHex(v.frame), { integrity: v.integrity });
      expect([f.type, f.poll, f.seq ?? null, toHex(f.body)]).toEqual([v.type, v.poll, v.seq, v.body]);
    });
  }

  for (const key of ['message', 'messageV3']) {
    it(`fragmented message (${key}): exact frames, and recovery from the repair frames plus any k-3 sources`, () => {
      const m = framesV[key];
      const framing = { mtu: m.mtu, integrity: m.integrity, fragmentVersion: m.fragmentVersion };
      const enc = new MessageEncoder(m.msgId, m.innerType, fromHex(m.payload), framing, 127);
      expect([enc.k, enc.symbolSize]).toEqual([m.k, m.symbolSize]);
      for (const f of m.frames) expect(toHex(enc.frame(f.index))).toBe(f.frame);
      expect(decodeFrame(fromHex(m.frames[0].frame)).type).toBe(FRAGMENT_FRAME_TYPE[m.fragmentVersion as FragmentVersion]);
      // A receiver takes either version.
      const rx = new Reassembler({ integrity: m.integrity });
      const got: string[] = [];
      for (const f of m.frames.slice(3)) got.push(...rx.receive(fromHex(f.frame), 'x', 0).messages.map((x) => toHex(x.payload)));
      expect(got).toEqual([m.payload]);
    });
  }

  it('a fragment of the retired version 1 is refused with a clear error, not misdecoded', () => {
    const m = framesV.message;
    expect(() => new Reassembler({ integrity: m.integrity }).receive(fromHex(m.retiredFragment), 'x', 0)).toThrow(
      expect.objectContaining({ code: 'fragment-version' }),
    );
  });

  for (const v of framesV.invalidFragmentBodies) {
    it(`invalid fragment body: ${v.name}`, () => {
      expect(() => decodeFragmentBody(fromHex(v.body), v.version)).toThrow(expect.objectContaining({ code: v.error }));
      // The same body in a frame: the receiver counts it and throws the same code.
      const frame = encodeFrame(FRAGMENT_FRAME_TYPE[v.version as FragmentVersion], fromHex(v.body), { integrity: 'crc16' });
      expect(() => new Reassembler({ integrity: 'crc16' }).receive(frame, 'x', 0)).toThrow(expect.objectContaining({ code: v.error }));
    });
  }

  it('fragment bodies of both versions round-trip', () => {
    for (const v of framesV.frames.filter((f: { type: number }) => fragmentVersionOf(f.type) !== undefined)) {
      const version = fragmentVersionOf(v.type)!;
      const f = decodeFragmentBody(fromHex(v.body), version);
      expect(toHex(encodeFragmentBody(f, version))).toBe(v.body);
      expect(fragmentHeaderLength(f.k, f.index, f.innerType, version)).toBe(v.body.length / 2 - f.symbol.length);
    }
  });

  for (const v of framesV.invalidTxAckBodies) {
    it(`invalid TXACK body: ${v.name}`, () => {
      expect(() => decodeTxAckBody(fromHex(v.body))).toThrow(expect.objectContaining({ code: v.error }));
    });
  }

  it('TXACK bodies round-trip: 8-byte txid prefixes in order', () => {
    for (const v of framesV.frames.filter((f: { type: number }) => f.type === FrameType.TXACK)) {
      const ids = decodeTxAckBody(fromHex(v.body));
      expect(toHex(encodeTxAckBody(ids))).toBe(v.body);
      expect(ids.every((id) => id.length === 8)).toBe(true);
    }
  });

  for (const v of framesV.invalidFrames) {
    it(`invalid frame: ${v.name}`, () => {
      expect(() => decodeFrame(fromHex(v.frame))).toThrow(expect.objectContaining({ code: v.error }));
    });
  }
});
