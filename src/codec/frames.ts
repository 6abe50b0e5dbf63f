// Frames (codecs/frames.md): one control byte (type, integrity, poll, sequence flags), an
// optional extended type byte and sequence byte, the body, and an optional CRC. Pure functions.
import { headerHash as blockHash } from '../chain/header.js';
import { InvalidDataError, MalformedInputError } from '../util/errors.js';
import { decodeHeaderStream, encodeHeaderStream, type BitsRule, type HeaderContext } from './headers.js';
import { ByteReader, writeLeb128 } from './bits.js';
import { crc16, crc32 } from './crc.js';
import { MAX_TXACK_ENTRIES, TXID_PREFIX_BYTES } from './txack.js';

export const FrameType = {
  HEADERS: 1,
  TIP: 2,
  TX: 3,
  BLOCK: 4,
  GETHEADERS: 5,
  ACK: 6,
  /** Retired: fountain code version 1 (dense); receivers refuse it with `fragment-version`. */
  FRAGMENT_V1: 7,
  /** One symbol of a fragmented message, fountain code version 2 (codecs/frames.md 4). */
  FRAGMENT: 8,
  /** Transactions a gateway's node accepted, sent back on the link they came over (frames.md 3.4). */
  TXACK: 9,
  /** One symbol of a fragmented message with the compact version 3 header (codecs/frames.md 4.2), same code as FRAGMENT. */
  FRAGMENT_V3: 10,
} as const;
export type KnownFrameType = (typeof FrameType)[keyof typeof FrameType];

/** Type nibble value meaning "the type is in the next byte" (16..255). */
export const EXTENDED_TYPE = 15;

export type Integrity = 'none' | 'crc16' | 'crc32';
const INTEGRITY_CODE: Record<Integrity, number> = { none: 0, crc16: 1, crc32: 2 };
const INTEGRITY_BY_CODE: Integrity[] = ['none', 'crc16', 'crc32'];
export const INTEGRITY_BYTES: Record<Integrity, number> = { none: 0, crc16: 2, crc32: 4 };

export interface Frame {
  /** 1..255; 1..8 are defined (FrameType), others are passed up for newer receivers. */
  type: number;
  integrity: Integrity;
  /** Poll: the sender asks for an ACK (duplex fragments). */
  poll: boolean;
  /** Per-sender sequence number 0..255, when the frame carries one. */
  seq?: number;
  body: Uint8Array;
}

export interface FrameEncodeOptions {
  integrity: Integrity;
  poll?: boolean;
  seq?: number;
}

/** Bytes a frame adds around its body. */
export function frameOverhead(type: number, opts: { integrity: Integrity; seq?: boolean | number }): number {
  const hasSeq = opts.seq !== undefined && opts.seq !== false;
  return 1 + (type >= 16 ? 1 : 0) + (hasSeq ? 1 : 0) + INTEGRITY_BYTES[opts.integrity];
}

export function encodeFrame(type: number, body: Uint8Array, opts: FrameEncodeOptions): Uint8Array {
  if (!Number.isInteger(type) || type < 1 || type > 255 || type === EXTENDED_TYPE) {
    throw new RangeError(`frame type must be 1..14 or 16..255, got ${type}`);
  }
  if (opts.seq !== undefined && (!Number.isInteger(opts.seq) || opts.seq < 0 || opts.seq > 255)) {
    throw new RangeError(`frame sequence must be 0..255, got ${opts.seq}`);
  }
  const ext = type >= 16;
  const hasSeq = opts.seq !== undefined;
  const head = 1 + (ext ? 1 : 0) + (hasSeq ? 1 : 0);
  const crcLen = INTEGRITY_BYTES[opts.integrity];
  const out = new Uint8Array(head + body.length + crcLen);
  out[0] = ((ext ? EXTENDED_TYPE : type) << 4) | (INTEGRITY_CODE[opts.integrity] << 2) | (opts.poll ? 2 : 0) | (hasSeq ? 1 : 0);
  let o = 1;
  if (ext) out[o++] = type;
  if (hasSeq) out[o++] = opts.seq!;
  out.set(body, o);
  o += body.length;
  if (opts.integrity === 'crc16') {
    const c = crc16(out, 0, o);
    out[o] = c >>> 8;
    out[o + 1] = c & 0xff;
  } else if (opts.integrity === 'crc32') {
    const c = crc32(out, 0, o);
    out[o] = c >>> 24;
    out[o + 1] = (c >>> 16) & 0xff;
    out[o + 2] = (c >>> 8) & 0xff;
    out[o + 3] = c & 0xff;
  }
  return out;
}

export interface FrameDecodeOptions {
  /**
   * The integrity mode this link uses. A frame claiming another mode is rejected, so a bit
   * error in the control byte cannot switch the check off.
   */
  integrity?: Integrity;
}

export function decodeFrame(bytes: Uint8Array, opts: FrameDecodeOptions = {}): Frame {
  if (bytes.length < 1) throw new MalformedInputError('frame-empty', 'empty frame; the link delivered nothing');
  const control = bytes[0];
  const nibble = control >>> 4;
  const integrityCode = (control >>> 2) & 3;
  if (integrityCode === 3) {
    throw new MalformedInputError('frame-integrity-mode', 'frame uses an unknown integrity mode; it is corrupt or from a newer version');
  }
  const integrity = INTEGRITY_BY_CODE[integrityCode];
  if (opts.integrity !== undefined && opts.integrity !== integrity) {
    throw new MalformedInputError(
      'frame-integrity-mode',
      `frame carries integrity "${integrity}" but this link uses "${opts.integrity}"; check both ends use the same setting`,
    );
  }
  const crcLen = INTEGRITY_BYTES[integrity];
  if (bytes.length < 1 + crcLen)
    throw new MalformedInputError('frame-truncated', 'frame shorter than its integrity check; it is truncated');
  const end = bytes.length - crcLen;
  if (integrity === 'crc16') {
    const want = (bytes[end] << 8) | bytes[end + 1];
    if (crc16(bytes, 0, end) !== want)
      throw new MalformedInputError('frame-crc', 'frame CRC-16 mismatch; the frame was corrupted on the way');
  } else if (integrity === 'crc32') {
    const want = ((bytes[end] << 24) | (bytes[end + 1] << 16) | (bytes[end + 2] << 8) | bytes[end + 3]) >>> 0;
    if (crc32(bytes, 0, end) !== want)
      throw new MalformedInputError('frame-crc', 'frame CRC-32 mismatch; the frame was corrupted on the way');
  }
  const r = new ByteReader(bytes, 1, end);
  let type = nibble;
  if (nibble === 0) throw new MalformedInputError('frame-type', 'frame type 0 is not valid; the frame is corrupt');
  if (nibble === EXTENDED_TYPE) {
    type = r.u8('frame extended type');
    if (type < 16) throw new MalformedInputError('frame-type', `extended frame type ${type} must be >= 16; the frame is corrupt`);
  }
  const seq = control & 1 ? r.u8('frame sequence') : undefined;
  const body = bytes.slice(r.pos, end);
  const frame: Frame = { type, integrity, poll: (control & 2) !== 0, body };
  if (seq !== undefined) frame.seq = seq;
  return frame;
}

// ---- bodies ----------------------------------------------------------------------------------

/** Bytes of a block hash prefix in HEADERS and GETHEADERS bodies. */
export const HASH_PREFIX_BYTES = 4;

export interface HeadersBody {
  /** Height of the header the batch follows. */
  parentHeight: number;
  /** First HASH_PREFIX_BYTES of that header's hash (internal byte order). */
  parentPrefix: Uint8Array;
  /** The header stream (codecs/headers.md), decoded against the parent. */
  stream: Uint8Array;
}

export function encodeHeadersBody(b: HeadersBody): Uint8Array {
  const head: number[] = [];
  writeLeb128(head, b.parentHeight);
  const out = new Uint8Array(head.length + HASH_PREFIX_BYTES + b.stream.length);
  out.set(head);
  out.set(b.parentPrefix.subarray(0, HASH_PREFIX_BYTES), head.length);
  out.set(b.stream, head.length + HASH_PREFIX_BYTES);
  return out;
}

export function decodeHeadersBody(body: Uint8Array): HeadersBody {
  const r = new ByteReader(body);
  const parentHeight = r.leb128('headers parent height');
  const parentPrefix = r.bytes(HASH_PREFIX_BYTES, 'headers parent prefix');
  return { parentHeight, parentPrefix, stream: body.slice(r.pos) };
}

export interface LocatorEntry {
  height: number;
  /** First HASH_PREFIX_BYTES of the block hash (internal byte order). */
  prefix: Uint8Array;
}

export interface GetHeadersBody {
  /** Newest first, 1..16 entries: blocks the requester has. */
  locator: LocatorEntry[];
  /** Most headers wanted; 0 = the responder chooses. */
  maxHeaders: number;
}

export const MAX_LOCATOR_ENTRIES = 16;

export function encodeGetHeadersBody(b: GetHeadersBody): Uint8Array {
  if (b.locator.length < 1 || b.locator.length > MAX_LOCATOR_ENTRIES) {
    throw new RangeError(`a locator has 1..${MAX_LOCATOR_ENTRIES} entries, got ${b.locator.length}`);
  }
  const out: number[] = [b.locator.length];
  for (const e of b.locator) {
    writeLeb128(out, e.height);
    if (e.prefix.length < HASH_PREFIX_BYTES) throw new RangeError('locator prefix too short');
    for (let i = 0; i < HASH_PREFIX_BYTES; i++) out.push(e.prefix[i]);
  }
  writeLeb128(out, b.maxHeaders);
  return Uint8Array.from(out);
}

export function decodeGetHeadersBody(body: Uint8Array): GetHeadersBody {
  const r = new ByteReader(body);
  const n = r.u8('locator count');
  if (n < 1 || n > MAX_LOCATOR_ENTRIES) {
    throw new MalformedInputError('getheaders-locator', `locator count ${n} is outside 1..${MAX_LOCATOR_ENTRIES}; the frame is corrupt`);
  }
  const locator: LocatorEntry[] = [];
  for (let i = 0; i < n; i++) {
    const height = r.leb128('locator height');
    locator.push({ height, prefix: r.bytes(HASH_PREFIX_BYTES, 'locator prefix') });
  }
  const maxHeaders = r.leb128('getheaders max');
  if (r.remaining !== 0) throw new MalformedInputError('codec-trailing-bytes', 'bytes after the getheaders body; the frame is corrupt');
  return { locator, maxHeaders };
}

export interface AckBody {
  msgId: number;
  /** Symbols the receiver still needs; 0 = message complete. */
  needed: number;
}

export function encodeAckBody(b: AckBody): Uint8Array {
  const out: number[] = [b.msgId & 0xff];
  writeLeb128(out, b.needed);
  return Uint8Array.from(out);
}

export function decodeAckBody(body: Uint8Array): AckBody {
  const r = new ByteReader(body);
  const msgId = r.u8('ack message id');
  const needed = r.leb128('ack needed', MAX_INDEX);
  if (r.remaining !== 0) throw new MalformedInputError('codec-trailing-bytes', 'bytes after the ack body; the frame is corrupt');
  return { msgId, needed };
}

export { MAX_TXACK_ENTRIES, TXID_PREFIX_BYTES };

/** TXACK body: the txid prefixes (8 bytes each, internal order) of transactions the node accepted. */
export function encodeTxAckBody(txids: Uint8Array[]): Uint8Array {
  if (txids.length < 1 || txids.length > MAX_TXACK_ENTRIES)
    throw new RangeError(`a TXACK carries 1..${MAX_TXACK_ENTRIES} txids, got ${txids.length}`);
  const out = new Uint8Array(1 + txids.length * TXID_PREFIX_BYTES);
  out[0] = txids.length;
  txids.forEach((id, i) => {
    if (id.length < TXID_PREFIX_BYTES) throw new RangeError(`a txid has at least ${TXID_PREFIX_BYTES} bytes, got ${id.length}`);
    out.set(id.subarray(0, TXID_PREFIX_BYTES), 1 + i * TXID_PREFIX_BYTES);
  });
  return out;
}

/** The txid prefixes of a TXACK body; a count outside 1..16 or a length that does not match is an error. */
export function decodeTxAckBody(body: Uint8Array): Uint8Array[] {
  const r = new ByteReader(body);
  const n = r.u8('txack count');
  if (n < 1 || n > MAX_TXACK_ENTRIES)
    throw new MalformedInputError('txack-count', `TXACK count ${n} is outside 1..${MAX_TXACK_ENTRIES}; the frame is corrupt`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(r.bytes(TXID_PREFIX_BYTES, 'txack txid prefix').slice());
  if (r.remaining !== 0) throw new MalformedInputError('codec-trailing-bytes', 'bytes after the TXACK body; the frame is corrupt');
  return out;
}

/** Largest k (source symbols per message) the format allows. */
export const MAX_K = 4096;
/** Symbol indexes are below this (LEB128 of at most 2 bytes). */
export const MAX_INDEX = 16383;

export interface FragmentBody {
  msgId: number;
  /** Frame type of the message being carried (HEADERS, TX, BLOCK, ...). */
  innerType: number;
  /** Source symbols in the message. */
  k: number;
  /** < k: source symbol; >= k: repair symbol. */
  index: number;
  symbol: Uint8Array;
}

/**
 * Fragment header versions (codecs/frames.md 4.2): 3, the compact header of frame type 10 (the
 * default: a byte less in most frames), or 2, frame type 8, for receivers not yet upgraded.
 * Receivers take both; the symbols and the erasure code are the same.
 */
export type FragmentVersion = 2 | 3;
export const FRAGMENT_VERSIONS: readonly FragmentVersion[] = [2, 3];
export const DEFAULT_FRAGMENT_VERSION: FragmentVersion = 3;
/** The frame type of a fragment with each header version. */
export const FRAGMENT_FRAME_TYPE: Record<FragmentVersion, number> = { 2: FrameType.FRAGMENT, 3: FrameType.FRAGMENT_V3 };
/** The fragment header version of a frame type, or undefined when it is not a (current) fragment. */
export function fragmentVersionOf(frameType: number): FragmentVersion | undefined {
  return frameType === FrameType.FRAGMENT ? 2 : frameType === FrameType.FRAGMENT_V3 ? 3 : undefined;
}

/** Version 3: inner types with a 2-bit code in the shape field (position = code); code 3 means the type byte follows. */
const V3_SHORT_TYPES: readonly number[] = [FrameType.HEADERS, FrameType.TX, FrameType.BLOCK];
const V3_EXPLICIT_TYPE = 3;

const leb128Bytes = (n: number) => (n < 128 ? 1 : n < 16384 ? 2 : 3);

/** Bytes of a fragment body before its symbol (codecs/frames.md 4.2). */
export function fragmentHeaderLength(
  k: number,
  index: number,
  innerType: number = FrameType.HEADERS,
  version: FragmentVersion = 2,
): number {
  if (version === 2) return 2 + leb128Bytes(k) + leb128Bytes(index);
  const code = V3_SHORT_TYPES.indexOf(innerType);
  return 1 + leb128Bytes((k - 1) * 4 + V3_EXPLICIT_TYPE) + (code < 0 ? 1 : 0) + leb128Bytes(index);
}

function checkInnerType(innerType: number): void {
  if (
    innerType === 0 ||
    innerType === FrameType.FRAGMENT ||
    innerType === FrameType.FRAGMENT_V1 ||
    innerType === FrameType.FRAGMENT_V3 ||
    innerType === FrameType.ACK ||
    innerType === EXTENDED_TYPE
  ) {
    throw new MalformedInputError('fragment-inner-type', `a fragment cannot carry frame type ${innerType}; the frame is corrupt`);
  }
}

/**
 * A fragment body. Version 2: msgId, inner type, varint k, varint index, symbol. Version 3:
 * msgId, varint shape = (k - 1) * 4 + type code (0 HEADERS, 1 TX, 2 BLOCK, 3 = inner type byte
 * follows), [inner type], varint index, symbol.
 */
export function encodeFragmentBody(b: FragmentBody, version: FragmentVersion = 2): Uint8Array {
  if (b.k < 1 || b.k > MAX_K || b.index < 0 || b.index > MAX_INDEX) throw new RangeError('fragment k or index out of range');
  const head: number[] = [b.msgId & 0xff];
  if (version === 2) {
    head.push(b.innerType);
    writeLeb128(head, b.k);
  } else {
    const code = V3_SHORT_TYPES.indexOf(b.innerType);
    writeLeb128(head, (b.k - 1) * 4 + (code < 0 ? V3_EXPLICIT_TYPE : code));
    if (code < 0) head.push(b.innerType);
  }
  writeLeb128(head, b.index);
  const out = new Uint8Array(head.length + b.symbol.length);
  out.set(head);
  out.set(b.symbol, head.length);
  return out;
}

export function decodeFragmentBody(body: Uint8Array, version: FragmentVersion = 2): FragmentBody {
  const r = new ByteReader(body);
  const msgId = r.u8('fragment message id');
  let innerType: number;
  let k: number;
  if (version === 2) {
    innerType = r.u8('fragment inner type');
    checkInnerType(innerType);
    k = r.leb128('fragment k', MAX_K);
    if (k < 1) throw new MalformedInputError('fragment-k', 'fragment k must be at least 1; the frame is corrupt');
  } else {
    // (MAX_K - 1) * 4 + 3 = 16383: the shape takes at most two bytes, like the index.
    const shape = r.leb128('fragment shape', (MAX_K - 1) * 4 + V3_EXPLICIT_TYPE);
    k = (shape >>> 2) + 1;
    const code = shape & 3;
    if (code === V3_EXPLICIT_TYPE) {
      innerType = r.u8('fragment inner type');
      checkInnerType(innerType);
      if (V3_SHORT_TYPES.includes(innerType)) {
        throw new MalformedInputError(
          'fragment-noncanonical',
          `a version 3 fragment names inner type ${innerType} in a byte where its 2-bit code belongs; the frame is corrupt or from a faulty sender`,
        );
      }
    } else innerType = V3_SHORT_TYPES[code];
  }
  const index = r.leb128('fragment index', MAX_INDEX);
  if (r.remaining < 1) throw new MalformedInputError('fragment-empty', 'fragment carries no symbol bytes; the frame is corrupt');
  return { msgId, innerType, k, index, symbol: body.slice(r.pos) };
}

// ---- header batches against the receiver's store -------------------------------------------

/** Body of a HEADERS frame for `headers`, which follow `context.parent`. */
export function encodeHeadersMessage(headers: Uint8Array[], context: HeaderContext): Uint8Array {
  const stream = encodeHeaderStream(headers, context);
  return encodeHeadersBody({ parentHeight: context.parentHeight, parentPrefix: blockHash(context.parent), stream });
}

/**
 * Decodes a HEADERS body. `findParent(height, prefix)` returns the 80-byte header the receiver
 * holds at that height whose hash starts with the 4-byte prefix, or undefined; without one the
 * batch cannot be decoded (InvalidDataError 'headers-parent-unknown': fetch or wait for the gap).
 */
export function decodeHeadersMessage(
  body: Uint8Array,
  findParent: (height: number, prefix: Uint8Array) => Uint8Array | undefined,
  opts: { bitsRule?: BitsRule; maxHeaders?: number } = {},
): { parentHeight: number; headers: Uint8Array[] } {
  const b = decodeHeadersBody(body);
  const parent = findParent(b.parentHeight, b.parentPrefix);
  if (!parent) {
    throw new InvalidDataError(
      'headers-parent-unknown',
      `no stored header at height ${b.parentHeight} matches the batch's parent; fetch the headers before it or wait for them`,
    );
  }
  const hash = blockHash(parent);
  for (let i = 0; i < HASH_PREFIX_BYTES; i++) {
    if (hash[i] !== b.parentPrefix[i])
      throw new InvalidDataError('headers-parent-unknown', 'the header findParent returned does not match the batch prefix');
  }
  const headers = decodeHeaderStream(
    b.stream,
    { parent, parentHeight: b.parentHeight, bitsRule: opts.bitsRule },
    { maxHeaders: opts.maxHeaders },
  );
  return { parentHeight: b.parentHeight, headers };
}
