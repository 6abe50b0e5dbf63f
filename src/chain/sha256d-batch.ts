// Double SHA-256 of a batch of 80-byte block headers in one call, with sha256d80Words (sha256d.ts),
// into one scratch buffer read as bytes and as 32-bit words: the digests and the headers
// themselves (HeaderChain compares and stores both as words). Reading the copied header as words
// and writing the digest as words hashed the 8,065 shared headers in 7.56-7.59 ms against 7.83-7.85
// for sha256d80 on the bytes plus a byte swap (CPU medians of 25 passes, MAIN_NODE_FLAGS, 2 runs).
//
// History (issue 18): the batch was hashed in a small WebAssembly module assembled here, for the
// cold start (compiled code from the first header: the file's first pass in a fresh process 7.5 ms
// against 13.3 for sha256d80, warm ~0.75 us per header against ~1.2). It cost the daemon's main
// process, its only user, 320 more pages of the node binary (1.3 MB resident; the WebAssembly
// decoder, Liftoff and TurboFan's WebAssembly parts, which no other process of a gateway maps, so
// on the appliance that is 1.3 MB of PSS): 9,766 against 9,446 pages mapped (memory bench gateway,
// /proc/PID/pagemap). The daemon's start-up warm-up (warmup.ts) has since made the first real run
// of JavaScript fast too. Measured with this file (npm run --silent bench -- coldstart and --
// chain, 2 runs each alternating with the WebAssembly one): first run after the warm-up 1.34/1.37x
// the warm one (WebAssembly 1.42/1.35x), warm 14.1/17.4 ms (11.3/15.4, main-thread CPU); full
// validation of the 8,065 shared headers, median wall 11.3/11.4 ms (10.1/9.9), 707-714k headers/s,
// 1.16/1.60x bare node:crypto double SHA-256 (1.46/1.75).
import { sha256d80Words } from './sha256d.js';
import { ConfigError } from '../util/errors.js';

/** Headers per call: the scratch holds this many headers and digests. */
export const HASH_BATCH = 64;

/**
 * Hashes headers in batches of up to HASH_BATCH into its own scratch buffer. HeaderChain uses the
 * process's one instance, sharedHeaderHasher().
 */
export class HeaderBatchHasher {
  /** The digests of the last batch: header i's at i * 32, internal byte order. */
  readonly digests: Uint8Array;
  /** The same as 32-bit words in platform order: header i's at i * 8. */
  readonly digestWords: Uint32Array;
  /** The last batch's headers as 32-bit words in platform order: header i's at i * 20. */
  readonly inputWords: Uint32Array;
  private readonly input: Uint8Array;

  constructor() {
    // The word views are read as little-endian uint32 fields (the header's and readU32LE's order).
    if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
      throw new ConfigError('big-endian-unsupported', 'the header chain needs a little-endian CPU (x86, ARM, RISC-V as Node runs them)');
    }
    const scratch = new ArrayBuffer(HASH_BATCH * (80 + 32));
    this.input = new Uint8Array(scratch, 0, HASH_BATCH * 80);
    this.inputWords = new Uint32Array(scratch, 0, HASH_BATCH * 20);
    this.digests = new Uint8Array(scratch, HASH_BATCH * 80, HASH_BATCH * 32);
    this.digestWords = new Uint32Array(scratch, HASH_BATCH * 80, HASH_BATCH * 8);
  }

  /**
   * Hashes raws[start..] up to HASH_BATCH headers, stopping before the first that is not 80
   * bytes. Returns the index after the last header hashed.
   */
  hash(raws: readonly Uint8Array[], start: number): number {
    const end = Math.min(raws.length, start + HASH_BATCH);
    const { input, inputWords, digestWords } = this;
    let i = start;
    for (; i < end; i++) {
      const raw = raws[i];
      if (raw.length !== 80) break;
      const j = i - start;
      input.set(raw, j * 80);
      sha256d80Words(inputWords, j * 20, digestWords, j * 8);
    }
    return i;
  }
}

let shared: HeaderBatchHasher | undefined;
/**
 * The instance every HeaderChain of the process uses. Its buffer is scratch for one synchronous
 * hash() call and what the caller reads right after (like sha256d.ts's module-level scratch), so
 * chains can share it; sharing keeps the call monomorphic, so code V8 optimised for one chain
 * (the start-up warm-up's: src/chain/warmup.ts) serves the next one.
 */
export function sharedHeaderHasher(): HeaderBatchHasher {
  shared ??= new HeaderBatchHasher();
  return shared;
}
