// Start-up warm-up of header validation (issue 18, cold start): validates a synthetic chain of
// headers into a throwaway HeaderChain, so that V8 has profiled and optimised the validation hot
// path before the first real batch arrives. The gateway runs it once per process while its link
// drivers start (nothing to validate yet then).
//
// Why: a fresh Node process runs the hot path in V8's interpreter and baseline code until its
// optimising compiler has caught up, and Node 20's V8 keeps no optimised code between processes.
// Measured (npm run --silent bench -- coldstart, which reports the first run with and without this
// warm-up and what the warm-up costs): the first real run of the 8,065 shared mainnet headers
// about 2x the warm one without it, near the warm one with it.
//
// The synthetic headers follow the network's own rules (retarget with its interval and clamps,
// median time past, version floors, testnet walk-back), starting from a checkpoint at the end of a
// difficulty period like the real chain does, so the same code paths run; only the proof-of-work
// limit is replaced by an easy one (nBits 0x2100ffff, target 0xffff << 240: almost every hash meets
// it), which is why no real network's headers could be confused with these and why they live only
// in the throwaway chain.
import { HeaderChain } from './chain.js';
import type { Checkpoint, NetworkParams } from './networks.js';
import { sharedHeaderHasher } from './sha256d-batch.js';
import { Counters } from '../util/counters.js';
import { silentLogger } from '../util/log.js';
import { writeU32LE } from '../util/bytes.js';
import { monotonicMs } from '../util/clock.js';

/** Headers in the warm-up: one full difficulty period and a batch past the retarget. */
export const WARMUP_HEADERS = 2016 + 64;
const EASY_BITS = 0x2100ffff;
const ROOT_PASSES = 8;
const EASY_TARGET = 0xffffn << 240n;
const WARMUP_CHAIN_WORK = 0x9e3779b97f4a7c15f39cc060_5cedc834_fffffff0n;

export interface WarmUpResult {
  /** Headers the throwaway chain accepted (WARMUP_HEADERS unless something is wrong). */
  accepted: number;
  /** Wall time of the warm-up, ms. */
  ms: number;
}

/**
 * Validates WARMUP_HEADERS synthetic headers of `network`'s rules into a throwaway chain. Touches
 * no real chain, store, log or counter; safe to call any number of times.
 */
export function warmUpHeaderValidation(network: NetworkParams, nowSeconds = Date.now() / 1000): WarmUpResult {
  const t0 = monotonicMs();
  const params: NetworkParams = { ...network, powLimit: EASY_TARGET, checkpoints: [] };
  const interval = params.targetTimespan / params.targetSpacing;
  const checkpoint: Checkpoint = {
    height: network.checkpoints.at(-1)?.height ?? interval - 1,
    hash: new Uint8Array(32).fill(0xa5),
    // Limbs of realistic size (the real chain's are full 32-bit numbers), one carry early on:
    // V8 then optimises the work arithmetic for the numbers real headers bring.
    chainWork: WARMUP_CHAIN_WORK,
    nextBits: EASY_BITS,
    recentTimes: [],
  };
  const raws = synthesize(params, checkpoint, Math.floor(nowSeconds) - 3600);
  const fresh = (initialCapacity = 16) =>
    new HeaderChain({
      network: params,
      log: silentLogger(),
      counters: new Counters(),
      nowSeconds: () => nowSeconds,
      checkpoint,
      initialCapacity,
    });
  // A small arena, so the batch grows it as a real chain's first batches do.
  const r = fresh().addHeaders(raws);
  // The first headers after a checkpoint read the root's stored facts, a branch V8 saw only
  // before it began recording feedback: a few more fresh chains, so a real chain's first header
  // does not throw the optimised code away.
  for (let i = 0; i < ROOT_PASSES; i++) fresh().addHeaders(raws.slice(0, 16));
  return { accepted: r.accepted, ms: monotonicMs() - t0 };
}

const warmedNetworks = new Set<string>();
/**
 * warmUpHeaderValidation once per process and network (what it warms, V8's optimised code, is
 * the process's); undefined when already done. What the gateway calls at start-up.
 */
export function warmUpHeaderValidationOnce(network: NetworkParams, nowSeconds?: number): WarmUpResult | undefined {
  if (warmedNetworks.has(network.name)) return undefined;
  warmedNetworks.add(network.name);
  return warmUpHeaderValidation(network, nowSeconds);
}

/**
 * WARMUP_HEADERS headers after `checkpoint`, each linked to the previous one's hash, the last
 * timed at `endTime`. Spaced targetSpacing apart except the last block of the first period, which
 * makes that period exactly targetTimespan long, so the retarget keeps EASY_BITS.
 */
function synthesize(params: NetworkParams, checkpoint: Checkpoint, endTime: number): Uint8Array[] {
  const interval = params.targetTimespan / params.targetSpacing;
  const spacing = params.targetSpacing;
  const times: number[] = [];
  let t = endTime - (WARMUP_HEADERS + 1) * spacing;
  for (let k = 0; k < WARMUP_HEADERS; k++) {
    // k = 0 is the first block of a period (the checkpoint ends one).
    t = k === interval - 1 ? times[0] + params.targetTimespan : t + spacing;
    times.push(t);
  }
  const buf = new Uint8Array(WARMUP_HEADERS * 80);
  const raws: Uint8Array[] = [];
  const hasher = sharedHeaderHasher();
  let prev = checkpoint.hash;
  let seed = 0x9e3779b9;
  for (let k = 0; k < WARMUP_HEADERS; k++) {
    const raw = buf.subarray(k * 80, k * 80 + 80);
    writeU32LE(raw, 0, 0x20000000);
    raw.set(prev, 4);
    for (let i = 36; i < 68; i += 4) {
      // xorshift32: a merkle root that differs per header.
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      writeU32LE(raw, i, seed >>> 0);
    }
    writeU32LE(raw, 68, times[k]);
    writeU32LE(raw, 72, EASY_BITS);
    // A hash whose top 16 bits are all ones may exceed the target (odds 2^-16): try the next nonce.
    for (let nonce = 0; ; nonce++) {
      writeU32LE(raw, 76, nonce);
      hasher.hash([raw], 0);
      if (hasher.digests[31] !== 0xff || hasher.digests[30] !== 0xff) break;
    }
    prev = hasher.digests.slice(0, 32);
    raws.push(raw);
  }
  return raws;
}
