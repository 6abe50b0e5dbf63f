// Random and mutated inputs for every codec decoder. A "crash" is any exception that is not a
// MalformedInputError/InvalidDataError (AltnetError): the decoders must fail typed, never raw.
import { readFileSync } from 'node:fs';
import { AltnetError } from '../../src/util/errors.js';
import { headerHash } from '../../src/chain/header.js';
import {
  decodeAckBody,
  decodeFrame,
  decodeGetHeadersBody,
  decodeHeadersBody,
  encodeAckBody,
  encodeFrame,
  encodeGetHeadersBody,
  encodeHeadersBody,
  FrameType,
} from '../../src/codec/frames.js';
import { ArqSender, MessageEncoder, Reassembler } from '../../src/codec/fragment.js';
import { decodeHeaderStream, decodeTip, encodeHeaderStream, encodeTip, resolveTip } from '../../src/codec/headers.js';
import { SHARED_DATA } from '../harness/data.js';
import { Prng } from './prng.js';

export interface FuzzResult {
  runs: number;
  accepted: number;
  typedErrors: number;
  crashes: number;
  crashSamples: string[];
}

const HOSTILE_VARINTS = [
  [0xff, 0xff, 0xff, 0xff, 0x0f],
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
  [0xff, 0x7f],
  [0x80, 0x00],
];

export function mutate(rng: Prng, seed: Uint8Array): Uint8Array {
  let b = Uint8Array.from(seed);
  const ops = rng.range(1, 4);
  for (let o = 0; o < ops; o++) {
    const op = rng.int(6);
    if (op === 0 && b.length) b[rng.int(b.length)] ^= 1 << rng.int(8);
    else if (op === 1 && b.length) b[rng.int(b.length)] = rng.u32() & 0xff;
    else if (op === 2) b = b.slice(0, rng.int(b.length + 1));
    else if (op === 3) {
      const extra = rng.bytes(rng.int(16));
      const nb = new Uint8Array(b.length + extra.length);
      nb.set(b);
      nb.set(extra, b.length);
      b = nb;
    } else if (op === 4) {
      const v = rng.pick(HOSTILE_VARINTS);
      const at = rng.int(b.length + 1);
      const nb = new Uint8Array(b.length + v.length);
      nb.set(b.subarray(0, at));
      nb.set(v, at);
      nb.set(b.subarray(at), at + v.length);
      b = nb;
    } else if (b.length > 1) {
      const at = rng.int(b.length);
      b = b.slice(0, at);
    }
  }
  return b;
}

export type Decoder = (input: Uint8Array) => unknown;

export interface FuzzTarget {
  name: string;
  decode: Decoder;
  seeds: Uint8Array[];
}

export function fuzzTargets(): FuzzTarget[] {
  const file = new Uint8Array(readFileSync(SHARED_DATA.recentHeaders));
  const at = (i: number) => file.slice(i * 80, i * 80 + 80);
  const parent = at(100);
  const ctx = { parent, parentHeight: SHARED_DATA.recentFirstHeight + 100 };
  const streams = [0, 1, 2, 3].map((n) => encodeHeaderStream([101, 102, 103].slice(0, n).map(at), ctx));
  const tips = [1, 2, 3].map((i) => encodeTip({ header: at(100 + i), height: ctx.parentHeight + i, parent: at(99 + i) }));
  const frag = new MessageEncoder(3, FrameType.TX, new Prng(1).bytes(200), { mtu: 40, integrity: 'crc16' });
  const frames = [
    ...tips.map((t) => encodeFrame(FrameType.TIP, t, { integrity: 'crc16' })),
    encodeFrame(FrameType.ACK, encodeAckBody({ msgId: 3, needed: 2 }), { integrity: 'crc16', seq: 4 }),
    frag.frame(0),
    frag.frame(frag.k + 1, { poll: true }),
  ];
  const bodies = [
    encodeHeadersBody({ parentHeight: 5, parentPrefix: new Uint8Array(4), stream: streams[2] }),
    encodeGetHeadersBody({ locator: [{ height: 9, prefix: new Uint8Array(4) }], maxHeaders: 100 }),
    encodeAckBody({ msgId: 1, needed: 1000 }),
  ];
  // Frames of the same sender accumulate across runs, so the reassembler's state is fuzzed too.
  const rx = new Reassembler({ integrity: 'crc16', acks: true, maxBytesPerSender: 64 * 1024, maxBytesTotal: 256 * 1024 });
  let clock = 0;
  // Without a CRC most mutations reach the fragment parser and the decoder itself.
  const plain = new MessageEncoder(4, FrameType.HEADERS, new Prng(2).bytes(300), { mtu: 48, integrity: 'none' });
  // Version 2 headers too (frame type 8): receivers take both (codecs/frames.md 4.2).
  const plain2 = new MessageEncoder(5, FrameType.GETHEADERS, new Prng(3).bytes(200), { mtu: 48, integrity: 'none', fragmentVersion: 2 });
  const plainFrames = [
    plain.frame(0),
    plain.frame(1),
    plain.frame(plain.k),
    plain.frame(plain.k + 5, { poll: true }),
    plain2.frame(0),
    plain2.frame(plain2.k),
  ];
  const rxPlain = new Reassembler({ integrity: 'none', acks: true, maxBytesPerSender: 64 * 1024, maxBytesTotal: 256 * 1024 });
  const arq = new ArqSender({ mtu: 40, integrity: 'crc16', retransmitMs: 10 });
  arq.send(FrameType.TX, new Uint8Array(100));
  return [
    { name: 'frame', decode: (b) => decodeFrame(b), seeds: frames },
    { name: 'headerStream', decode: (b) => decodeHeaderStream(b, ctx), seeds: streams },
    {
      name: 'tip',
      decode: (b) => {
        const t = decodeTip(b);
        return resolveTip({ ...t, parentPrefix: headerHash(parent).subarray(0, 1) }, parent);
      },
      seeds: tips,
    },
    { name: 'headersBody', decode: decodeHeadersBody, seeds: bodies },
    { name: 'getheadersBody', decode: decodeGetHeadersBody, seeds: bodies },
    { name: 'ackBody', decode: decodeAckBody, seeds: bodies },
    {
      name: 'reassembler',
      decode: (b) => {
        clock += 10;
        rx.receive(b, clock % 3 === 0 ? 'a' : 'b', clock);
        arq.poll(clock);
        try {
          arq.receive(b, clock);
        } catch (err) {
          if (!(err instanceof AltnetError)) throw err;
        }
      },
      seeds: frames,
    },
    {
      name: 'reassemblerNoIntegrity',
      decode: (b) => {
        clock += 10;
        rxPlain.receive(b, clock % 2 === 0 ? 'a' : 'b', clock);
      },
      seeds: plainFrames,
    },
  ];
}

export function fuzz(target: FuzzTarget, runs: number, seed: number): FuzzResult {
  const rng = new Prng(seed);
  const r: FuzzResult = { runs, accepted: 0, typedErrors: 0, crashes: 0, crashSamples: [] };
  for (let i = 0; i < runs; i++) {
    const input = i % 4 === 0 ? rng.bytes(rng.int(120)) : mutate(rng, rng.pick(target.seeds));
    try {
      target.decode(input);
      r.accepted++;
    } catch (err) {
      if (err instanceof AltnetError) r.typedErrors++;
      else {
        r.crashes++;
        if (r.crashSamples.length < 5) r.crashSamples.push(`${Buffer.from(input).toString('hex')}: ${String(err)}`);
      }
    }
  }
  return r;
}
