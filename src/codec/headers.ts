// Header codec (codecs/headers.md): stream mode for runs of consecutive headers and standalone
// mode for one tip announcement. Pure functions; bytes in, bytes or typed values out.
import { HEADER_SIZE, sha256d as headerHash } from '../chain/header.js';
import type { NetworkParams } from '../chain/networks.js';
import { readU32LE, writeU32LE } from '../util/bytes.js';
import { InvalidDataError, MalformedInputError } from '../util/errors.js';
import { BitReader, BitWriter, ByteReader, truncated, writeLeb128 } from './bits.js';

/** Version bits miners roll (BIP320: bits 13..28). */
export const VERSION_ROLL_MASK = 0x1fffe000;
export const DEFAULT_VERSION_BASE = 0x20000000;
export const RETARGET_INTERVAL = 2016;
/** Rice parameter of the time delta code. */
export const TIME_RICE_K = 9;
/** Largest Rice quotient a decoder accepts; larger deltas use the literal escape. */
export const TIME_MAX_QUOTIENT = 32;
/** Bytes of the parent hash a tip carries. */
export const TIP_PREFIX_BYTES = 1;
/** Bits of the magnitude of a small negative time delta (escape form S=1). */
export const TIME_NEGATIVE_BITS = 12;

/**
 * Where nBits may change without an escape: 'retarget' (mainnet, signet: only at heights that
 * are multiples of 2016, where one flag bit says whether it changed) or 'every' (testnet4,
 * regtest: min-difficulty blocks may appear anywhere, so every header carries the flag bit).
 */
export type BitsRule = 'retarget' | 'every';

export function bitsRuleFor(network: NetworkParams): BitsRule {
  return network.allowMinDifficultyBlocks ? 'every' : 'retarget';
}

export interface HeaderContext {
  /** The 80-byte header right before the first one coded (the receiver already has it). */
  parent: Uint8Array;
  /** Height of `parent`. */
  parentHeight: number;
  /** Defaults to 'retarget' (mainnet). */
  bitsRule?: BitsRule;
}

// ---- version symbol code -------------------------------------------------------------------
// Symbols: 0 = rolling field zero; 1..136 = rolling field with highest set bit `hi` and lowest
// set bit `lo` (index 1 + hi*(hi+1)/2 + lo); 137 = ALT (the base is the recent non-default
// base, a rolling-field symbol follows); 138 = ESCAPE (literal version follows).
export const SYM_ALT = 137;
export const SYM_ESCAPE = 138;
export const VERSION_SYMBOLS = 139;

/** Canonical Huffman code lengths of the version symbols (codecs/headers.md, table V). */
export const VERSION_CODE_LENGTHS: readonly number[] = [
  4, 7, 7, 7, 5, 8, 7, 6, 7, 8, 8, 9, 10, 12, 11, 12, 8, 10, 11, 11, 11, 11, 7, 8, 9, 10, 10, 11, 12, 7, 8, 9, 10, 12, 12, 13, 12, 9, 10,
  11, 12, 13, 13, 13, 12, 6, 8, 9, 10, 11, 11, 12, 13, 13, 7, 6, 7, 8, 9, 11, 11, 12, 12, 12, 5, 6, 6, 6, 7, 9, 9, 10, 11, 11, 12, 12, 13,
  13, 12, 5, 6, 7, 8, 9, 10, 11, 13, 12, 12, 12, 13, 7, 4, 5, 6, 7, 8, 9, 11, 12, 12, 13, 12, 11, 7, 7, 3, 4, 5, 7, 7, 8, 10, 11, 11, 11,
  11, 11, 7, 8, 8, 4, 6, 7, 5, 9, 10, 11, 12, 12, 13, 12, 12, 6, 7, 8, 8, 6, 12,
];

interface CanonicalCode {
  codes: Uint32Array;
  lengths: Uint8Array;
  maxLen: number;
  /** Per length: first code value, index of its first symbol in `sorted`, number of codes. */
  firstCode: Int32Array;
  firstIndex: Int32Array;
  count: Int32Array;
  sorted: Uint16Array;
}

/** DEFLATE-style canonical code: symbols sorted by (length, symbol), codes counted up. */
export function buildCanonicalCode(lengths: readonly number[]): CanonicalCode {
  const maxLen = Math.max(...lengths);
  const count = new Int32Array(maxLen + 2);
  for (const l of lengths) count[l]++;
  const sorted = Uint16Array.from(lengths.map((_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b));
  const codes = new Uint32Array(lengths.length);
  const firstCode = new Int32Array(maxLen + 2);
  const firstIndex = new Int32Array(maxLen + 2);
  let code = 0;
  let idx = 0;
  for (let len = 1; len <= maxLen; len++) {
    code <<= 1;
    firstCode[len] = code;
    firstIndex[len] = idx;
    for (let j = 0; j < count[len]; j++) codes[sorted[idx + j]] = code + j;
    code += count[len];
    idx += count[len];
  }
  return { codes, lengths: Uint8Array.from(lengths), maxLen, firstCode, firstIndex, count, sorted };
}

const VERSION_CODE = buildCanonicalCode(VERSION_CODE_LENGTHS);

function writeSymbol(w: BitWriter, sym: number): void {
  w.writeBits(VERSION_CODE.codes[sym], VERSION_CODE.lengths[sym]);
}

function readSymbol(r: BitReader): number {
  const c = VERSION_CODE;
  let code = 0;
  for (let len = 1; len <= c.maxLen; len++) {
    code = (code << 1) | r.readBit();
    const off = code - c.firstCode[len];
    if (off < c.count[len]) return c.sorted[c.firstIndex[len] + off];
  }
  // The code is complete (Kraft sum 1), so this is unreachable for a valid table.
  throw new MalformedInputError('headers-symbol', 'version symbol is not in the code table; the data is corrupt');
}

function rollSymbol(roll: number): { sym: number; lo: number; hi: number } {
  if (roll === 0) return { sym: 0, lo: 0, hi: 0 };
  const hi = 31 - Math.clz32(roll);
  const lo = 31 - Math.clz32(roll & -roll);
  return { sym: 1 + (hi * (hi + 1)) / 2 + lo, lo, hi };
}

// Symbol index -> (lo, hi) for the rolling-field symbols.
const SYM_LO = new Int8Array(137);
const SYM_HI = new Int8Array(137);
for (let hi = 0; hi < 16; hi++) {
  for (let lo = 0; lo <= hi; lo++) {
    const s = 1 + (hi * (hi + 1)) / 2 + lo;
    SYM_LO[s] = lo;
    SYM_HI[s] = hi;
  }
}

function writeRoll(w: BitWriter, roll: number): void {
  const { sym, lo, hi } = rollSymbol(roll);
  writeSymbol(w, sym);
  if (sym !== 0 && hi - lo > 1) w.writeBits((roll >>> (lo + 1)) & ((1 << (hi - lo - 1)) - 1), hi - lo - 1);
}

function readRoll(r: BitReader, sym: number): number {
  if (sym === 0) return 0;
  const lo = SYM_LO[sym];
  const hi = SYM_HI[sym];
  let roll = (1 << hi) | (1 << lo);
  if (hi - lo > 1) roll |= r.readBits(hi - lo - 1) << (lo + 1);
  return roll;
}

// ---- per-header fields -----------------------------------------------------------------------

/** What the receiver knows before decoding the next header. */
interface CoderState {
  hash: Uint8Array;
  time: number;
  bits: number;
  altBase: number;
  height: number;
}

function stateFromParent(parent: Uint8Array, parentHeight: number): CoderState {
  if (parent.length !== HEADER_SIZE) {
    throw new MalformedInputError('header-size', `the context's parent header must be 80 bytes, got ${parent.length}`);
  }
  if (!Number.isSafeInteger(parentHeight) || parentHeight < 0) {
    throw new RangeError(`parentHeight must be an integer >= 0, got ${parentHeight}`);
  }
  return {
    hash: headerHash(parent),
    time: readU32LE(parent, 68),
    bits: readU32LE(parent, 72),
    altBase: (readU32LE(parent, 0) & ~VERSION_ROLL_MASK) >>> 0,
    height: parentHeight,
  };
}

/** The coded fields of one header, before they are applied to the receiver's state. */
export type CodedVersion =
  { kind: 'default'; roll: number } | { kind: 'alt'; roll: number } | { kind: 'literal'; version: number; bitsLiteral: boolean };
export interface CodedFields {
  version: CodedVersion;
  /** Seconds after the parent's time, or an absolute time (escape). */
  time: { delta: number } | { absolute: number };
  /** 'same' = parent's nBits; otherwise the literal value. */
  bits: 'same' | { literal: number };
}

function writeFields(w: BitWriter, raw: Uint8Array, st: CoderState, flagBits: boolean): void {
  const version = readU32LE(raw, 0);
  const time = readU32LE(raw, 68);
  const bits = readU32LE(raw, 72);
  const base = (version & ~VERSION_ROLL_MASK) >>> 0;
  const roll = (version >>> 13) & 0xffff;
  const bitsDiffer = bits !== st.bits;
  const bitsLiteral = bitsDiffer && !flagBits;

  if (bitsLiteral || (base !== DEFAULT_VERSION_BASE && base !== st.altBase)) {
    writeSymbol(w, SYM_ESCAPE);
    w.writeBit(bitsLiteral ? 1 : 0);
    w.writeBits(version, 32);
  } else if (base === DEFAULT_VERSION_BASE) {
    writeRoll(w, roll);
  } else {
    writeSymbol(w, SYM_ALT);
    writeRoll(w, roll);
  }
  if (base !== DEFAULT_VERSION_BASE) st.altBase = base;

  const u = time - st.time + 1;
  if (u >= 1 && u < (TIME_MAX_QUOTIENT + 1) << TIME_RICE_K) {
    writeRice(w, u);
  } else if (u <= 0 && u > -(1 << TIME_NEGATIVE_BITS)) {
    // Miners' clocks disagree by minutes, so small steps back are common enough to code short.
    writeRice(w, 0);
    w.writeBit(1);
    w.writeBits(-u, TIME_NEGATIVE_BITS);
  } else {
    writeRice(w, 0);
    w.writeBit(0);
    w.writeBits(time, 32);
  }

  if (bitsLiteral) w.writeBits(bits, 32);
  else if (flagBits) {
    w.writeBit(bitsDiffer ? 1 : 0);
    if (bitsDiffer) w.writeBits(bits, 32);
  }
}

function writeRice(w: BitWriter, u: number): void {
  const q = u >>> TIME_RICE_K;
  for (let i = 0; i < q; i++) w.writeBit(1);
  w.writeBit(0);
  w.writeBits(u & ((1 << TIME_RICE_K) - 1), TIME_RICE_K);
}

function readRice(r: BitReader): number {
  let q = 0;
  while (r.readBit() === 1) {
    if (++q > TIME_MAX_QUOTIENT) {
      throw new MalformedInputError('headers-time', 'time delta code is longer than allowed; the data is corrupt');
    }
  }
  return (q << TIME_RICE_K) | r.readBits(TIME_RICE_K);
}

function readFields(r: BitReader, flagBits: boolean): CodedFields {
  let version: CodedVersion;
  const sym = readSymbol(r);
  if (sym === SYM_ESCAPE) {
    const bitsLiteral = r.readBit() === 1;
    version = { kind: 'literal', bitsLiteral, version: r.readBits(32) };
  } else if (sym === SYM_ALT) {
    const inner = readSymbol(r);
    if (inner >= SYM_ALT) {
      throw new MalformedInputError('headers-symbol', 'ALT must be followed by a rolling-field symbol; the data is corrupt');
    }
    version = { kind: 'alt', roll: readRoll(r, inner) };
  } else {
    version = { kind: 'default', roll: readRoll(r, sym) };
  }
  const u = readRice(r);
  let time: CodedFields['time'];
  if (u !== 0) time = { delta: u - 1 };
  else if (r.readBit() === 1) time = { delta: -r.readBits(TIME_NEGATIVE_BITS) - 1 };
  else time = { absolute: r.readBits(32) };
  let bits: CodedFields['bits'] = 'same';
  if (version.kind === 'literal' && version.bitsLiteral) bits = { literal: r.readBits(32) };
  else if (flagBits && r.readBit() === 1) bits = { literal: r.readBits(32) };
  return { version, time, bits };
}

/** Applies coded fields to the state; returns the 80-byte header and advances the state. */
function applyFields(f: CodedFields, merkleAndNonce: Uint8Array, off: number, st: CoderState): Uint8Array {
  let version: number;
  if (f.version.kind === 'literal') version = f.version.version;
  else {
    const base = f.version.kind === 'default' ? DEFAULT_VERSION_BASE : st.altBase;
    version = (base | (f.version.roll << 13)) >>> 0;
  }
  const base = (version & ~VERSION_ROLL_MASK) >>> 0;
  if (base !== DEFAULT_VERSION_BASE) st.altBase = base;
  const time = 'absolute' in f.time ? f.time.absolute : st.time + f.time.delta;
  if (time > 0xffffffff || time < 0) {
    throw new MalformedInputError('headers-time', 'decoded time does not fit in 32 bits; the data is corrupt');
  }
  const bits = f.bits === 'same' ? st.bits : f.bits.literal;
  const raw = new Uint8Array(HEADER_SIZE);
  writeU32LE(raw, 0, version);
  raw.set(st.hash, 4);
  raw.set(merkleAndNonce.subarray(off, off + 32), 36);
  writeU32LE(raw, 68, time);
  writeU32LE(raw, 72, bits);
  raw.set(merkleAndNonce.subarray(off + 32, off + 36), 76);
  st.hash = headerHash(raw);
  st.time = time;
  st.bits = bits;
  st.height++;
  return raw;
}

function isFlagPoint(rule: BitsRule, height: number): boolean {
  return rule === 'every' || height % RETARGET_INTERVAL === 0;
}

// ---- stream mode -----------------------------------------------------------------------------

export interface StreamDecodeOptions {
  /** Refuse streams that claim more headers than this (default 100,000). */
  maxHeaders?: number;
}

/**
 * Codes consecutive headers that follow `context.parent`. Layout: LEB128 count, then per header
 * merkle root (32) and nonce (4) bytes, then one bit stream with the other fields.
 */
export function encodeHeaderStream(headers: Uint8Array[], context: HeaderContext): Uint8Array {
  const st = stateFromParent(context.parent, context.parentHeight);
  const rule = context.bitsRule ?? 'retarget';
  const head: number[] = [];
  writeLeb128(head, headers.length);
  const fixed = new Uint8Array(head.length + headers.length * 36);
  fixed.set(head, 0);
  const w = new BitWriter(headers.length * 4 + 8);
  let off = head.length;
  for (let i = 0; i < headers.length; i++) {
    const raw = headers[i];
    if (raw.length !== HEADER_SIZE) {
      throw new MalformedInputError('header-size', `header ${i} is ${raw.length} bytes, a block header is 80`);
    }
    for (let j = 0; j < 32; j++) {
      if (raw[4 + j] !== st.hash[j]) {
        throw new InvalidDataError(
          'headers-not-consecutive',
          `header ${i} does not follow the previous one (its prevHash differs); stream mode codes only consecutive headers`,
        );
      }
    }
    fixed.set(raw.subarray(36, 68), off);
    fixed.set(raw.subarray(76, 80), off + 32);
    off += 36;
    writeFields(w, raw, st, isFlagPoint(rule, st.height + 1));
    st.hash = headerHash(raw);
    st.time = readU32LE(raw, 68);
    st.bits = readU32LE(raw, 72);
    st.height++;
  }
  const tail = w.finish();
  const out = new Uint8Array(fixed.length + tail.length);
  out.set(fixed);
  out.set(tail, fixed.length);
  return out;
}

export function decodeHeaderStream(bytes: Uint8Array, context: HeaderContext, opts: StreamDecodeOptions = {}): Uint8Array[] {
  const st = stateFromParent(context.parent, context.parentHeight);
  const rule = context.bitsRule ?? 'retarget';
  const br = new ByteReader(bytes);
  const count = br.leb128('header stream count', opts.maxHeaders ?? 100_000);
  // Each header needs 36 fixed bytes plus at least 11 bits; check before allocating anything.
  if (count * 36 > br.remaining || (br.remaining - count * 36) * 8 < count * 11) {
    throw truncated(`header stream of ${count} headers`);
  }
  const fixedStart = br.pos;
  const r = new BitReader(bytes, fixedStart + count * 36);
  const out: Uint8Array[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const fields = readFields(r, isFlagPoint(rule, st.height + 1));
    out[i] = applyFields(fields, bytes, fixedStart + i * 36, st);
  }
  r.expectEnd('header stream');
  return out;
}

// ---- standalone tip --------------------------------------------------------------------------

export interface TipInput {
  header: Uint8Array;
  height: number;
  /** The tip's parent (80 bytes): the coder codes version, time and nBits against it. */
  parent: Uint8Array;
}

/** A decoded tip announcement; `resolveTip` turns it into a header once the parent is known. */
export interface TipAnnouncement {
  height: number;
  /** First TIP_PREFIX_BYTES bytes of the parent's hash (internal byte order). */
  parentPrefix: Uint8Array;
  merkleRoot: Uint8Array;
  nonce: number;
  fields: CodedFields;
}

/**
 * Layout: merkle root (32), nonce (4), LEB128 height, parent hash prefix (2), then the field
 * bit stream with the nBits flag always present (a tip decoder may not know the network).
 */
export function encodeTip(tip: TipInput): Uint8Array {
  if (tip.header.length !== HEADER_SIZE) {
    throw new MalformedInputError('header-size', `a block header is 80 bytes, got ${tip.header.length}`);
  }
  if (!Number.isSafeInteger(tip.height) || tip.height < 1 || tip.height > 0xffffffff) {
    throw new RangeError(`tip height must be 1..2^32-1, got ${tip.height}`);
  }
  const st = stateFromParent(tip.parent, tip.height - 1);
  for (let j = 0; j < 32; j++) {
    if (tip.header[4 + j] !== st.hash[j]) {
      throw new InvalidDataError('tip-parent-mismatch', 'the tip header does not follow the given parent');
    }
  }
  const head: number[] = [];
  writeLeb128(head, tip.height);
  const w = new BitWriter(16);
  writeFields(w, tip.header, st, true);
  const tail = w.finish();
  const out = new Uint8Array(36 + head.length + TIP_PREFIX_BYTES + tail.length);
  out.set(tip.header.subarray(36, 68), 0);
  out.set(tip.header.subarray(76, 80), 32);
  out.set(head, 36);
  out.set(st.hash.subarray(0, TIP_PREFIX_BYTES), 36 + head.length);
  out.set(tail, 36 + head.length + TIP_PREFIX_BYTES);
  return out;
}

export function decodeTip(bytes: Uint8Array): TipAnnouncement {
  const br = new ByteReader(bytes);
  const merkleRoot = br.bytes(32, 'tip merkle root');
  const nonce = readU32LE(br.bytes(4, 'tip nonce'), 0);
  const height = br.leb128('tip height');
  if (height < 1) throw new MalformedInputError('tip-height', 'a tip height must be at least 1; the data is corrupt');
  const parentPrefix = br.bytes(TIP_PREFIX_BYTES, 'tip parent prefix');
  const r = new BitReader(bytes, br.pos);
  const fields = readFields(r, true);
  r.expectEnd('tip');
  return { height, parentPrefix, merkleRoot, nonce, fields };
}

/** True when `parent` (80 bytes) may be the announced tip's parent (prefix matches). */
export function tipParentMatches(tip: TipAnnouncement, parentHash: Uint8Array): boolean {
  for (let i = 0; i < TIP_PREFIX_BYTES; i++) if (parentHash[i] !== tip.parentPrefix[i]) return false;
  return true;
}

/**
 * Rebuilds the tip's 80-byte header from its parent (the header at height - 1 in the
 * receiver's store whose hash starts with parentPrefix). The caller still checks PoW: a wrong
 * parent with a colliding prefix yields a header whose hash misses its target.
 */
export function resolveTip(tip: TipAnnouncement, parent: Uint8Array): Uint8Array {
  const st = stateFromParent(parent, tip.height - 1);
  if (!tipParentMatches(tip, st.hash)) {
    throw new InvalidDataError(
      'tip-parent-mismatch',
      'this parent hash does not start with the announced prefix; look for another header at that height',
    );
  }
  const fixed = new Uint8Array(36);
  fixed.set(tip.merkleRoot, 0);
  writeU32LE(fixed, 32, tip.nonce);
  return applyFields(tip.fields, fixed, 0, st);
}
