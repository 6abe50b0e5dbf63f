// Consensus rules for a block header against its parent context, as pure functions: the
// difficulty rules (mainnet retarget with the 4x clamp, testnet min-difficulty and walk-back,
// BIP94, regtest), median-time-past, future-time limit, version floor and proof of work.
// HeaderChain uses exactly these; a caller with its own ancestry can use them too.
import { bitsToTarget, HEADER_SIZE, targetToBits } from './header.js';
import type { NetworkParams } from './networks.js';
import { headerHash80 } from './sha256d.js';
import { readU32LE } from '../util/bytes.js';

/** Stable rejection codes; also used as counter names (`chain.rejected.<code>`). */
export type RejectCode =
  | 'bad-header-size'
  | 'prev-not-found'
  | 'bad-pow'
  | 'bad-diffbits'
  | 'time-too-old'
  | 'time-too-new'
  | 'time-timewarp-attack'
  | 'bad-version'
  | 'side-branch-full';

/** Core's MAX_FUTURE_BLOCK_TIME: a header may be at most 2 hours ahead of our clock. */
export const MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60;
/** Number of ancestors in the median-time-past. */
export const MEDIAN_TIME_SPAN = 11;
/** BIP94: the first block of a period may be at most 10 minutes older than its parent. */
export const MAX_TIMEWARP = 600;

/**
 * What validating a child needs to know about its parent and the parent's ancestors on the same
 * branch. Heights below a checkpoint are unknown: timeAt returns 0 for them (see Checkpoint).
 */
export interface ParentContext {
  height: number;
  time: number;
  bits: number;
  /** Timestamp of the ancestor at `height` (0 <= height <= this.height). */
  timeAt(height: number): number;
  /** nBits of the ancestor at `height` (0 <= height <= this.height). */
  bitsAt(height: number): number;
  /**
   * Testnet walk-back from the parent: nBits of the nearest ancestor that is a period's first
   * block or does not carry the pow limit. Optional: walked with bitsAt when absent.
   */
  walkBackBits?(): number;
  /** Set when the parent is a checkpoint: the successor's nBits cannot be derived, it is given. */
  fixedNextBits?: number;
  /** Optional fast path: times of the parent and its n - 1 predecessors into out[0..n), newest first. */
  timesInto?(out: Float64Array, n: number): void;
}

export function difficultyInterval(params: NetworkParams): number {
  return params.targetTimespan / params.targetSpacing;
}

const powLimitBitsCache = new WeakMap<NetworkParams, number>();
/** The pow limit in compact form, as Core's UintToArith256(powLimit).GetCompact(). */
export function powLimitBits(params: NetworkParams): number {
  let b = powLimitBitsCache.get(params);
  if (b === undefined) {
    b = targetToBits(params.powLimit);
    powLimitBitsCache.set(params, b);
  }
  return b;
}

/** Core's CalculateNextWorkRequired: the retarget at the end of a period. */
export function retargetBits(params: NetworkParams, lastBits: number, lastTime: number, firstTime: number, firstBits: number): number {
  if (params.noRetargeting) return lastBits;
  let span = lastTime - firstTime;
  if (span < params.targetTimespan / 4) span = params.targetTimespan / 4;
  if (span > params.targetTimespan * 4) span = params.targetTimespan * 4;
  // BIP94 retargets from the first block's nBits, so a min-difficulty last block cannot drag it.
  const base = bitsToTarget(params.enforceBip94 ? firstBits : lastBits) ?? params.powLimit;
  let target = (base * BigInt(span)) / BigInt(params.targetTimespan);
  if (target > params.powLimit) target = params.powLimit;
  return targetToBits(target);
}

/** Core's GetNextWorkRequired: the nBits a child of `parent` with timestamp `time` must carry. */
export function requiredBits(params: NetworkParams, parent: ParentContext, time: number): number {
  if (parent.fixedNextBits !== undefined) return parent.fixedNextBits;
  const interval = difficultyInterval(params);
  const height = parent.height + 1;
  if (height % interval !== 0) {
    if (params.allowMinDifficultyBlocks) {
      const limit = powLimitBits(params);
      // Testnet: a block more than 20 minutes after its parent may use the minimum difficulty.
      if (time > parent.time + params.targetSpacing * 2) return limit;
      if (parent.walkBackBits) return parent.walkBackBits();
      let h = parent.height;
      let bits = parent.bits;
      while (h > 0 && h % interval !== 0 && bits === limit) bits = parent.bitsAt(--h);
      return bits;
    }
    return parent.bits;
  }
  const firstHeight = height - interval;
  return retargetBits(params, parent.bits, parent.time, parent.timeAt(firstHeight), parent.bitsAt(firstHeight));
}

const mtpScratch = new Float64Array(MEDIAN_TIME_SPAN);
const mtpTimes = new Float64Array(MEDIAN_TIME_SPAN);
/** Median of the timestamps of the parent and its 10 predecessors (fewer near genesis). */
export function medianTimePast(parent: ParentContext): number {
  const n = Math.min(MEDIAN_TIME_SPAN, parent.height + 1);
  if (parent.timesInto) parent.timesInto(mtpTimes, n);
  else for (let k = 0; k < n; k++) mtpTimes[k] = k === 0 ? parent.time : parent.timeAt(parent.height - k);
  for (let k = 0; k < n; k++) {
    // Insertion sort: 11 elements, no allocation.
    const v = mtpTimes[k];
    let j = k;
    while (j > 0 && mtpScratch[j - 1] > v) {
      mtpScratch[j] = mtpScratch[j - 1];
      j--;
    }
    mtpScratch[j] = v;
  }
  return mtpScratch[n >> 1];
}

/** A rejection with a stable code and a message for the log. */
export interface Rejection {
  code: RejectCode;
  message: string;
}

function hex8(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

/**
 * Every rule that needs the parent, except proof of work (which needs the hash). Reads the header
 * at raw[offset..offset+80]. Returns null when the header passes.
 */
export function checkContext(
  params: NetworkParams,
  raw: Uint8Array,
  offset: number,
  parent: ParentContext,
  nowSeconds: number,
): Rejection | null {
  const height = parent.height + 1;
  const version = readU32LE(raw, offset) | 0;
  const time = readU32LE(raw, offset + 68);
  const bits = readU32LE(raw, offset + 72);
  const want = requiredBits(params, parent, time);
  if (bits !== want) {
    return { code: 'bad-diffbits', message: `nBits ${hex8(bits)} at height ${height}, the difficulty rules require ${hex8(want)}` };
  }
  const mtp = medianTimePast(parent);
  if (time <= mtp) {
    return { code: 'time-too-old', message: `time ${time} at height ${height} is not above the median time past ${mtp}` };
  }
  if (time > nowSeconds + MAX_FUTURE_BLOCK_TIME) {
    return {
      code: 'time-too-new',
      message: `time ${time} at height ${height} is more than 2 hours ahead of our clock (${Math.floor(nowSeconds)}); check the system clock if this repeats`,
    };
  }
  if (params.enforceBip94 && height % difficultyInterval(params) === 0 && parent.time !== 0 && time < parent.time - MAX_TIMEWARP) {
    return {
      code: 'time-timewarp-attack',
      message: `time ${time} at period start ${height} is more than 10 minutes before its parent's ${parent.time}`,
    };
  }
  if (
    (version < 2 && height >= (params.bip34Height ?? Infinity)) ||
    (version < 3 && height >= (params.bip66Height ?? Infinity)) ||
    (version < 4 && height >= (params.bip65Height ?? Infinity))
  ) {
    return { code: 'bad-version', message: `version ${hex8(version)} is obsolete at height ${height}` };
  }
  return null;
}

/** Little-endian 32-bit limbs of cumulative work: 192 bits (see MIN_TARGET for why that is enough). */
export const WORK_LIMBS = 6;

/**
 * An expanded compact target: 8 little-endian 32-bit limbs, and the work a block with it proves.
 * A class, not an object literal: V8 gave the literal's second instance (the first retarget in a
 * fresh process) a generalised field type, which threw away the optimised code of the
 * header-validation hot path that reads these fields (test/bench/coldstart.ts).
 */
export class TargetInfo {
  constructor(
    readonly limbs: Uint32Array,
    readonly work: bigint,
    /** `work` as WORK_LIMBS little-endian 32-bit limbs. */
    readonly workLimbs: Uint32Array,
  ) {}
}

const TWO_256 = 1n << 256n;
// No real header can meet a target below 2^128 (128 leading zero bits); refusing such nBits keeps
// per-header work at most 2^128, so even 2^32 headers of cumulative work fit in 192 bits.
const MIN_TARGET = 1n << 128n;

/**
 * Expands each distinct nBits once. nBits only change at retargets (or testnet min-difficulty
 * blocks), so the chain hits the same entry for thousands of headers. Bounded: cleared when full.
 */
export class TargetCache {
  private readonly map = new Map<number, TargetInfo | null>();
  private lastBits = -1;
  private last: TargetInfo | null = null;

  constructor(
    private readonly powLimit: bigint,
    private readonly maxEntries = 256,
  ) {}

  /** null when the nBits are malformed, above the pow limit, or absurdly small. */
  get(bits: number): TargetInfo | null {
    if (bits === this.lastBits) return this.last;
    let info = this.map.get(bits);
    if (info === undefined) {
      const target = bitsToTarget(bits);
      if (target === null || target > this.powLimit || target < MIN_TARGET) info = null;
      else {
        const limbs = new Uint32Array(8);
        let t = target;
        for (let i = 0; i < 8; i++) {
          limbs[i] = Number(t & 0xffffffffn);
          t >>= 32n;
        }
        const work = TWO_256 / (target + 1n);
        const workLimbs = new Uint32Array(WORK_LIMBS);
        let w = work;
        for (let i = 0; i < WORK_LIMBS; i++) {
          workLimbs[i] = Number(w & 0xffffffffn);
          w >>= 32n;
        }
        info = new TargetInfo(limbs, work, workLimbs);
      }
      if (this.map.size >= this.maxEntries) this.map.clear();
      this.map.set(bits, info);
    }
    this.lastBits = bits;
    this.last = info;
    return info;
  }
}

/** hash <= target, with the hash (internal byte order) at hash[offset..offset+32]. */
export function hashMeetsTarget(hash: Uint8Array, offset: number, target: Uint32Array): boolean {
  // target - hash over the eight little-endian 32-bit limbs: no borrow out of the top one means
  // hash <= target. Always all eight limbs, so the code V8 optimises does not depend on where real
  // hashes first differ from their target (a start-up warm-up with an easy target trains it too:
  // src/chain/warmup.ts).
  let borrow = 0;
  for (let i = 0; i < 8; i++) {
    const d = target[i] - readU32LE(hash, offset + 4 * i) - borrow;
    borrow = d < 0 ? 1 : 0;
  }
  return borrow === 0;
}

export type HeaderVerdict = { ok: true; hash: Uint8Array; work: bigint; height: number } | ({ ok: false } & Rejection);

/**
 * Full validation of one header against its parent, as a pure function (the caller checks that
 * raw's prevHash is the parent's hash). `targets` may be shared across calls for speed.
 */
export function validateHeader(
  params: NetworkParams,
  raw: Uint8Array,
  parent: ParentContext,
  nowSeconds: number,
  targets: TargetCache = new TargetCache(params.powLimit),
): HeaderVerdict {
  if (raw.length !== HEADER_SIZE) {
    return { ok: false, code: 'bad-header-size', message: `a block header is 80 bytes, got ${raw.length}` };
  }
  const rejection = checkContext(params, raw, 0, parent, nowSeconds);
  if (rejection) return { ok: false, ...rejection };
  const hash = headerHash80(raw);
  const pow = checkPow(targets, readU32LE(raw, 72), hash, 0);
  if (pow) return { ok: false, ...pow };
  return { ok: true, hash, work: targets.get(readU32LE(raw, 72))!.work, height: parent.height + 1 };
}

/** Proof of work of the header whose hash is hash[offset..offset+32]; null when it holds. */
export function checkPow(targets: TargetCache, bits: number, hash: Uint8Array, offset: number): Rejection | null {
  const info = targets.get(bits);
  if (info === null) return { code: 'bad-pow', message: `nBits ${hex8(bits)} is not a valid target for this network` };
  if (!hashMeetsTarget(hash, offset, info.limbs))
    return { code: 'bad-pow', message: `hash does not meet the target of nBits ${hex8(bits)}` };
  return null;
}
