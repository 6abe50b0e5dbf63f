// Writes codecs/headers.vectors.json and codecs/frames.vectors.json from real mainnet headers
// and fixed seeds. Run after a deliberate format change:
//   npx tsc -p tsconfig.json && node dist/test/codec/vectors-gen.js
// The vector test (vectors.test.ts) then checks the code against the files, so an accidental
// format change fails the tests instead of silently rewriting the spec.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { headerHash } from '../../src/chain/header.js';
import { toHex } from '../../src/util/bytes.js';
import { AltnetError } from '../../src/util/errors.js';
import { crc16, crc32 } from '../../src/codec/crc.js';
import { encodingRow, fountainParams, GF_EXP, hdpcMatrix, ldpcRows, SALT_EXCEPTIONS } from '../../src/codec/fec.js';
import { decodeTip, encodeHeaderStream, encodeTip, VERSION_CODE_LENGTHS, type BitsRule } from '../../src/codec/headers.js';
import {
  encodeAckBody,
  encodeFragmentBody,
  encodeFrame,
  encodeGetHeadersBody,
  encodeHeadersBody,
  encodeTxAckBody,
  type FragmentVersion,
  FrameType,
  type Integrity,
} from '../../src/codec/frames.js';
import { MessageEncoder } from '../../src/codec/fragment.js';
import { REPO_ROOT, SHARED_DATA } from '../harness/data.js';
import { Prng } from './prng.js';
import { randomChain } from './gen.js';

const recent = new Uint8Array(readFileSync(SHARED_DATA.recentHeaders));
const early = new Uint8Array(readFileSync(SHARED_DATA.genesisEraHeaders));
const at = (file: Uint8Array, i: number) => file.slice(i * 80, i * 80 + 80);
const recentAt = (height: number) => at(recent, height - SHARED_DATA.recentFirstHeight);

function streamCase(name: string, parent: Uint8Array, parentHeight: number, headers: Uint8Array[], bitsRule: BitsRule = 'retarget') {
  return {
    name,
    context: { parent: toHex(parent), parentHeight, bitsRule },
    headers: headers.map(toHex),
    encoded: toHex(encodeHeaderStream(headers, { parent, parentHeight, bitsRule })),
  };
}

const rng = new Prng(20260101);
const synthParent = recentAt(824000);
const wild = randomChain(rng, synthParent, 12, { wild: true });

const streams = [
  streamCase('empty stream', recentAt(822528), 822528, []),
  streamCase('one recent mainnet header', recentAt(822528), 822528, [recentAt(822529)]),
  streamCase(
    'eight recent mainnet headers',
    recentAt(823000),
    823000,
    Array.from({ length: 8 }, (_, i) => recentAt(823001 + i)),
  ),
  streamCase(
    'across the retarget at 824544 (nBits changes, flag bit set)',
    recentAt(824541),
    824541,
    [824542, 824543, 824544, 824545].map(recentAt),
  ),
  streamCase(
    'early mainnet, version 1 through ALT, heights 1..6',
    at(early, 0),
    0,
    [1, 2, 3, 4, 5, 6].map((i) => at(early, i)),
  ),
  streamCase('synthetic wild chain (escapes: literal versions, negative and absolute times, nBits literals)', synthParent, 824000, wild),
  streamCase('synthetic wild chain under the "every" nBits rule', synthParent, 824000, wild, 'every'),
];

function tipCase(name: string, height: number, header: Uint8Array, parent: Uint8Array) {
  const encoded = encodeTip({ header, height, parent });
  const t = decodeTip(encoded);
  const frame = encodeFrame(FrameType.TIP, encoded, { integrity: 'crc16' });
  return {
    name,
    height,
    header: toHex(header),
    parent: toHex(parent),
    encoded: toHex(encoded),
    decoded: { height: t.height, parentPrefix: toHex(t.parentPrefix), fields: t.fields },
    frameCrc16: toHex(frame),
  };
}

const tips = [
  tipCase('mainnet 830000', 830000, recentAt(830000), recentAt(829999)),
  tipCase('mainnet 824544 (retarget: nBits literal after the flag)', 824544, recentAt(824544), recentAt(824543)),
  tipCase('mainnet 822600', 822600, recentAt(822600), recentAt(822599)),
  tipCase('early mainnet 7 (version 1 via ALT)', 7, at(early, 7), at(early, 6)),
  tipCase('synthetic: literal version, negative time', 824001, wild[0], synthParent),
  ...wild.slice(1, 6).map((h, i) => tipCase(`synthetic wild ${i + 2}`, 824002 + i, h, wild[i])),
];

function errorCode(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return e instanceof AltnetError ? e.code : `untyped: ${String(e)}`;
  }
}

const badStreams = [
  {
    name: 'count larger than the bytes present',
    context: streams[2].context,
    encoded: '08' + streams[2].encoded.slice(2, 40),
    error: 'codec-truncated',
  },
  { name: 'count claims 2^32-1 headers', context: streams[2].context, encoded: 'ffffffff0f', error: 'codec-range' },
  { name: 'non-minimal varint count', context: streams[2].context, encoded: '8800' + streams[2].encoded.slice(2), error: 'codec-varint' },
  {
    name: 'extra byte after the bit stream',
    context: streams[2].context,
    encoded: streams[2].encoded + '00',
    error: 'codec-trailing-bytes',
  },
  { name: 'bit stream cut short', context: streams[2].context, encoded: streams[2].encoded.slice(0, -4), error: 'codec-truncated' },
  { name: 'Rice quotient above 32', context: streams[1].context, encoded: '01' + '00'.repeat(36) + 'ff'.repeat(10), error: 'headers-time' },
];

const headersVectors = {
  about: 'Test vectors for codecs/headers.md. Hex strings; headers are raw 80-byte serializations; hashes in internal byte order.',
  versionCodeLengths: VERSION_CODE_LENGTHS,
  stream: streams,
  tip: tips,
  invalidStream: badStreams,
};

// ---- frames ----
function frameCase(name: string, type: number, body: Uint8Array, integrity: Integrity, poll = false, seq?: number) {
  return {
    name,
    type,
    integrity,
    poll,
    seq: seq ?? null,
    body: toHex(body),
    frame: toHex(encodeFrame(type, body, { integrity, poll, seq })),
  };
}
const hdrStream = encodeHeaderStream([recentAt(830000), recentAt(830001)], { parent: recentAt(829999), parentHeight: 829999 });
const headersBody = encodeHeadersBody({ parentHeight: 829999, parentPrefix: headerHash(recentAt(829999)), stream: hdrStream });
const getHeaders = encodeGetHeadersBody({
  locator: [829999, 829998, 829990].map((h) => ({ height: h, prefix: headerHash(recentAt(h)) })),
  maxHeaders: 2016,
});
const frames = [
  frameCase('HEADERS batch of 2 (830000, 830001), CRC-32', FrameType.HEADERS, headersBody, 'crc32'),
  frameCase(
    'TIP 830000, CRC-16',
    FrameType.TIP,
    encodeTip({ header: recentAt(830000), height: 830000, parent: recentAt(829999) }),
    'crc16',
  ),
  frameCase(
    'TIP 830000, no integrity, sequence 7',
    FrameType.TIP,
    encodeTip({ header: recentAt(830000), height: 830000, parent: recentAt(829999) }),
    'none',
    false,
    7,
  ),
  frameCase('TX (a short fake transaction), CRC-16', FrameType.TX, Uint8Array.from([2, 0, 0, 0, 1, 0xaa, 0xbb]), 'crc16'),
  frameCase('GETHEADERS, 3 locator entries, max 2016, CRC-16', FrameType.GETHEADERS, getHeaders, 'crc16'),
  frameCase('ACK message 5 complete, CRC-16', FrameType.ACK, encodeAckBody({ msgId: 5, needed: 0 }), 'crc16'),
  frameCase('ACK message 200 needs 130, CRC-32', FrameType.ACK, encodeAckBody({ msgId: 200, needed: 130 }), 'crc32'),
  frameCase(
    'FRAGMENT, poll set, CRC-16',
    FrameType.FRAGMENT,
    encodeFragmentBody({ msgId: 9, innerType: FrameType.TX, k: 200, index: 300, symbol: Uint8Array.from([1, 2, 3, 4]) }),
    'crc16',
    true,
  ),
  frameCase(
    'FRAGMENT version 3, poll set, CRC-16: the same symbol as above (TX, k 200, index 300)',
    FrameType.FRAGMENT_V3,
    encodeFragmentBody({ msgId: 9, innerType: FrameType.TX, k: 200, index: 300, symbol: Uint8Array.from([1, 2, 3, 4]) }, 3),
    'crc16',
    true,
  ),
  frameCase(
    'FRAGMENT version 3, beacon batch symbol: HEADERS, k 5, index 7, CRC-16',
    FrameType.FRAGMENT_V3,
    encodeFragmentBody({ msgId: 200, innerType: FrameType.HEADERS, k: 5, index: 7, symbol: Uint8Array.from([0xaa, 0xbb, 0xcc]) }, 3),
    'crc16',
  ),
  frameCase(
    'FRAGMENT version 3, inner type in its own byte: GETHEADERS, k 1, index 0, CRC-16',
    FrameType.FRAGMENT_V3,
    encodeFragmentBody({ msgId: 0, innerType: FrameType.GETHEADERS, k: 1, index: 0, symbol: Uint8Array.from([0x01]) }, 3),
    'crc16',
  ),
  frameCase('extended type 42, CRC-16', 42, Uint8Array.from([0xde, 0xad]), 'crc16'),
  frameCase(
    'TXACK of one transaction, CRC-16',
    FrameType.TXACK,
    encodeTxAckBody([fromHex('aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899')]),
    'crc16',
  ),
  frameCase(
    'TXACK of two transactions, CRC-16',
    FrameType.TXACK,
    encodeTxAckBody([fromHex('0102030405060708'), fromHex('f1f2f3f4f5f6f7f8')]),
    'crc16',
  ),
];
// TXACK bodies a receiver must refuse (section 3.4).
const badTxAcks = [
  { name: 'count 0', body: '00', error: 'txack-count' },
  { name: 'count 17', body: '11' + '00'.repeat(17 * 8), error: 'txack-count' },
  { name: 'prefix cut short', body: '01aabbccdd', error: 'codec-truncated' },
  { name: 'trailing byte', body: '010102030405060708ff', error: 'codec-trailing-bytes' },
];

const msgRng = new Prng(7);
const payload = msgRng.bytes(100);
const enc = new MessageEncoder(3, FrameType.TX, payload, { mtu: 32, integrity: 'crc16', fragmentVersion: 2 }, 127);
const message = {
  name: '100-byte TX payload fragmented at mtu 32 with CRC-16; index field sized for indexes < 128',
  fragmentVersion: 2,
  mtu: 32,
  integrity: 'crc16',
  msgId: 3,
  innerType: FrameType.TX,
  payload: toHex(payload),
  k: enc.k,
  symbolSize: enc.symbolSize,
  frames: Array.from({ length: enc.k + 3 }, (_, i) => ({ index: i, frame: toHex(enc.frame(i)) })),
  // A version-1 fragment (frame type 7): receivers refuse it with `fragment-version`.
  retiredFragment: toHex(
    encodeFrame(
      FrameType.FRAGMENT_V1,
      encodeFragmentBody({ msgId: 3, innerType: FrameType.TX, k: 5, index: 0, symbol: Uint8Array.from([1, 2, 3]) }),
      { integrity: 'crc16' },
    ),
  ),
};

// The same message with version 3 headers: a byte less per frame, so a byte more of symbol.
const enc3 = new MessageEncoder(3, FrameType.TX, payload, { mtu: 32, integrity: 'crc16', fragmentVersion: 3 }, 127);
const messageV3 = {
  name: 'the same 100-byte TX payload at mtu 32 with CRC-16, version 3 fragment headers',
  fragmentVersion: 3,
  mtu: 32,
  integrity: 'crc16',
  msgId: 3,
  innerType: FrameType.TX,
  payload: toHex(payload),
  k: enc3.k,
  symbolSize: enc3.symbolSize,
  frames: Array.from({ length: enc3.k + 3 }, (_, i) => ({ index: i, frame: toHex(enc3.frame(i)) })),
};

// Fragment bodies a receiver must refuse (section 4.2), with the header version they claim.
const badFragments = [
  { name: 'v2: inner type ACK', version: 2, body: '0106010001', error: 'fragment-inner-type' },
  { name: 'v2: inner type FRAGMENT version 3', version: 2, body: '010a010001', error: 'fragment-inner-type' },
  { name: 'v2: k 0', version: 2, body: '0103000001', error: 'fragment-k' },
  { name: 'v2: no symbol', version: 2, body: '01030100', error: 'fragment-empty' },
  { name: 'v3: no symbol', version: 3, body: '010000', error: 'fragment-empty' },
  { name: 'v3: HEADERS named in a type byte (code 3) instead of code 0', version: 3, body: '01030100aa', error: 'fragment-noncanonical' },
  { name: 'v3: TX named in a type byte', version: 3, body: '01030300aa', error: 'fragment-noncanonical' },
  { name: 'v3: inner type FRAGMENT (8) in the type byte', version: 3, body: '01030800aa', error: 'fragment-inner-type' },
  { name: 'v3: inner type 0 in the type byte', version: 3, body: '01030000aa', error: 'fragment-inner-type' },
  { name: 'v3: shape above k 4096 (16384)', version: 3, body: '0180800100aa', error: 'codec-range' },
  { name: 'v3: shape varint not minimal', version: 3, body: '01800000aa', error: 'codec-varint' },
  { name: 'v3: index above 16383', version: 3, body: '0100808001aa', error: 'codec-range' },
  { name: 'v3: type byte missing', version: 3, body: '0103', error: 'codec-truncated' },
];

const badFrames = [
  { name: 'empty', frame: '', error: 'frame-empty' },
  { name: 'type 0', frame: '00', error: 'frame-type' },
  { name: 'integrity mode 3', frame: '1c00', error: 'frame-integrity-mode' },
  {
    name: 'CRC-16 mismatch',
    frame: frames[1].frame.slice(0, -2) + (parseInt(frames[1].frame.slice(-2), 16) ^ 1).toString(16).padStart(2, '0'),
    error: 'frame-crc',
  },
  { name: 'extended type below 16', frame: 'f00a', error: 'frame-type' },
  { name: 'sequence flag but no byte', frame: '31', error: 'codec-truncated' },
];

const framesVectors = {
  about: 'Test vectors for codecs/frames.md. Hex strings.',
  crc: {
    input: toHex(new TextEncoder().encode('123456789')),
    crc16: crc16(new TextEncoder().encode('123456789')),
    crc32: crc32(new TextEncoder().encode('123456789')),
  },
  gf256: { poly: 0x11d, expFirst16: Array.from(GF_EXP.subarray(0, 16)) },
  fountain: {
    params: [1, 5, 20, 151, 1870, 4096].map((k) => fountainParams(k)),
    saltExceptions: [...SALT_EXCEPTIONS],
    encodingRows: [
      { k: 1, x: 0 },
      { k: 1, x: 1 },
      { k: 5, x: 7 },
      { k: 20, x: 3 },
      { k: 151, x: 151 },
      { k: 1870, x: 16383 },
    ].map(({ k, x }) => ({ k, x, columns: encodingRow(fountainParams(k), x) })),
    ldpc: { k: 20, rows: ldpcRows(fountainParams(20)) },
    hdpc: { k: 20, rows: hdpcMatrix(fountainParams(20)).map(toHex) },
  },
  frames,
  message,
  messageV3,
  invalidFragmentBodies: badFragments,
  invalidFrames: badFrames,
  invalidTxAckBodies: badTxAcks,
};

// Sanity: every invalid vector must actually fail with its code (checked again in the tests).
import { decodeHeaderStream } from '../../src/codec/headers.js';
import { decodeFragmentBody, decodeFrame, decodeTxAckBody } from '../../src/codec/frames.js';
import { fromHex } from '../../src/util/bytes.js';
for (const b of badStreams) {
  const got = errorCode(() =>
    decodeHeaderStream(fromHex(b.encoded), {
      parent: fromHex(b.context.parent),
      parentHeight: b.context.parentHeight,
      bitsRule: b.context.bitsRule as BitsRule,
    }),
  );
  if (got !== b.error) throw new Error(`bad stream vector "${b.name}": expected ${b.error}, got ${got}`);
}
for (const b of badTxAcks) {
  const got = errorCode(() => decodeTxAckBody(fromHex(b.body)));
  if (got !== b.error) throw new Error(`bad TXACK vector "${b.name}": expected ${b.error}, got ${got}`);
}
for (const b of badFrames) {
  const got = errorCode(() => decodeFrame(fromHex(b.frame)));
  if (got !== b.error) throw new Error(`bad frame vector "${b.name}": expected ${b.error}, got ${got}`);
}
for (const b of badFragments) {
  const got = errorCode(() => decodeFragmentBody(fromHex(b.body), b.version as FragmentVersion));
  if (got !== b.error) throw new Error(`bad fragment vector "${b.name}": expected ${b.error}, got ${got}`);
}

writeFileSync(resolve(REPO_ROOT, 'codecs/headers.vectors.json'), JSON.stringify(headersVectors, null, 2) + '\n');
writeFileSync(resolve(REPO_ROOT, 'codecs/frames.vectors.json'), JSON.stringify(framesVectors, null, 2) + '\n');
process.stdout.write('wrote codecs/headers.vectors.json and codecs/frames.vectors.json\n');
