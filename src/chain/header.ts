// The 80-byte Bitcoin block header: strict parsing, hashing, and the compact-target
// arithmetic every layer needs (codec, chain, node).
import { hash } from 'node:crypto';
import { MalformedInputError } from '../util/errors.js';
import { readU32LE, writeU32LE } from '../util/bytes.js';

export const HEADER_SIZE = 80;
/**
 * Core's MAX_HEADERS_RESULTS (net_processing.cpp): most headers in one `headers` message; more
 * gets a peer punished, and a full message means "ask again, there may be more". The one
 * constant for the 2000-header limit: P2P messages, getheaders answers, driver IPC, sources.
 */
export const MAX_HEADERS_PER_MESSAGE = 2000;

export interface BlockHeader {
  /** Signed 32-bit, as on the wire. */
  version: number;
  /** 32 bytes, internal byte order (as serialized). */
  prevHash: Uint8Array;
  merkleRoot: Uint8Array;
  /** Seconds since the epoch, unsigned 32-bit. */
  time: number;
  /** Compact target. */
  bits: number;
  nonce: number;
}

/**
 * SHA-256 twice, with node:crypto's one-shot hash (OpenSSL): native code, as fast without a JIT
 * as with one. Measured on 2000 mainnet headers (CPU ms): 2.4 here against 5.4 for
 * @noble/hashes, and 5.5 against 259 under --jitless, which the internet source drivers run
 * with (src/util/node-memory.ts). The digests come back as latin1 ('binary') strings, in V8's heap,
 * the inner one goes in again through Node's pooled small Buffers, and the outer one is copied
 * into a plain 32-byte Uint8Array (V8 keeps a typed array this small inside its heap): as
 * Buffers, each digest was a 32-byte malloc of its own, freed at some later GC among longer-lived
 * allocations, which left the link drivers' malloc heaps fragmented after a sync (issue 18; a
 * jitless process hashing 8,000 headers: 156-340 kB of freed heap that only malloc_trim returned,
 * against 60-64 kB this way; 2000 headers 5.8-6.6 -> 6.6-7.3 ms under --jitless).
 */
export function sha256d(data: Uint8Array): Uint8Array {
  const digest = hash('sha256', Buffer.from(hash('sha256', data, 'binary'), 'latin1'), 'binary'); // 'binary' is latin1
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = digest.charCodeAt(i);
  return out;
}

export function parseHeader(raw: Uint8Array): BlockHeader {
  if (raw.length !== HEADER_SIZE) {
    throw new MalformedInputError('header-size', `a block header is 80 bytes, got ${raw.length}`);
  }
  return {
    version: readU32LE(raw, 0) | 0,
    prevHash: raw.slice(4, 36),
    merkleRoot: raw.slice(36, 68),
    time: readU32LE(raw, 68),
    bits: readU32LE(raw, 72),
    nonce: readU32LE(raw, 76),
  };
}

export function serializeHeader(h: BlockHeader): Uint8Array {
  if (h.prevHash.length !== 32 || h.merkleRoot.length !== 32) {
    throw new MalformedInputError('header-field', 'prevHash and merkleRoot must be 32 bytes');
  }
  const out = new Uint8Array(HEADER_SIZE);
  writeU32LE(out, 0, h.version >>> 0);
  out.set(h.prevHash, 4);
  out.set(h.merkleRoot, 36);
  writeU32LE(out, 68, h.time >>> 0);
  writeU32LE(out, 72, h.bits >>> 0);
  writeU32LE(out, 76, h.nonce >>> 0);
  return out;
}

/** Block hash in internal byte order (reverse it for display). */
export function headerHash(raw: Uint8Array): Uint8Array {
  if (raw.length !== HEADER_SIZE) {
    throw new MalformedInputError('header-size', `a block header is 80 bytes, got ${raw.length}`);
  }
  return sha256d(raw);
}

/**
 * Expand a compact target. Returns null for encodings Bitcoin Core rejects
 * (negative, zero, or overflowing 256 bits), so callers cannot mistake them for easy targets.
 */
export function bitsToTarget(bits: number): bigint | null {
  const exponent = bits >>> 24;
  let mantissa = bits & 0x007fffff;
  const negative = (bits & 0x00800000) !== 0;
  let target: bigint;
  if (exponent <= 3) {
    mantissa >>>= 8 * (3 - exponent);
    target = BigInt(mantissa);
  } else {
    target = BigInt(mantissa) << BigInt(8 * (exponent - 3));
  }
  const overflow = mantissa !== 0 && (exponent > 34 || (mantissa > 0xff && exponent > 33) || (mantissa > 0xffff && exponent > 32));
  if (negative && mantissa !== 0) return null;
  if (overflow || target === 0n) return null;
  return target;
}

/** Compact encoding of a target, as Bitcoin Core's arith_uint256::GetCompact. */
export function targetToBits(target: bigint): number {
  if (target <= 0n) return 0;
  let size = 0;
  for (let t = target; t > 0n; t >>= 8n) size++;
  let compact: number;
  if (size <= 3) compact = Number(target << BigInt(8 * (3 - size)));
  else compact = Number(target >> BigInt(8 * (size - 3)));
  if (compact & 0x00800000) {
    compact >>>= 8;
    size++;
  }
  return ((size << 24) | (compact & 0x007fffff)) >>> 0;
}

const TWO_256 = 1n << 256n;

/** Expected number of hashes for a target: 2^256 / (target + 1), as Core's GetBlockProof. */
export function workForBits(bits: number): bigint {
  const target = bitsToTarget(bits);
  if (target === null) return 0n;
  return TWO_256 / (target + 1n);
}

/** The hash (internal byte order, i.e. little-endian number) as a bigint. */
export function hashToBigInt(hash: Uint8Array): bigint {
  let v = 0n;
  for (let i = hash.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(hash[i]);
  return v;
}

/** True when the header's own hash meets the target its nBits claims. */
export function checkProofOfWork(raw: Uint8Array, powLimit: bigint): boolean {
  const bits = readU32LE(raw, 72);
  const target = bitsToTarget(bits);
  if (target === null || target > powLimit) return false;
  return hashToBigInt(headerHash(raw)) <= target;
}
