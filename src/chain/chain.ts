// The validated header tree: grows from a checkpoint (or genesis), keeps the best chain by
// cumulative work, follows reorgs, bounds side branches, persists through a HeaderStore.
//
// Memory: headers live in flat typed arrays, no per-header objects: 48 bytes of header (the 80
// bytes minus prevHash, which is the parent's hash and is put back when a header is read out),
// the 32-byte hash, 24 bytes of cumulative work, parent, height, walk-back bits, child count and
// an open-addressing hash index: 132 bytes per header slot (plus growth slack: GROWTH). Headers whose parent is unknown are rejected
// ('prev-not-found'), not kept as orphans: the caller asks the sender for the gap with locator().
// Side-branch headers are capped (maxSideHeaders); past the cap the side leaf with the least work
// is evicted (counted), which may be the newcomer ('side-branch-full').
import { HEADER_SIZE, MAX_HEADERS_PER_MESSAGE } from './header.js';
import type { Checkpoint, NetworkParams } from './networks.js';
import {
  checkContext,
  checkPow,
  difficultyInterval,
  powLimitBits,
  type ParentContext,
  type RejectCode,
  TargetCache,
  validateHeader,
  WORK_LIMBS,
  type HeaderVerdict,
  type Rejection,
} from './rules.js';
import { headerHash80 } from './sha256d.js';
import { sharedHeaderHasher } from './sha256d-batch.js';
import { FileHeaderStore, type HeaderStore, type OpenedStore, type StoreCut } from './store.js';
import { equalBytes, hashToHex, readU32LE } from '../util/bytes.js';
import { ConfigError } from '../util/errors.js';
import type { Counters } from '../util/counters.js';
import type { Logger } from '../util/log.js';

export interface HeaderChainOptions {
  network: NetworkParams;
  log: Logger;
  /** Counter names are unprefixed (`accepted`, `rejected.bad-pow`...): pass counters.scoped('chain.'). */
  counters: Counters;
  /** Seconds since the epoch; defaults to the system clock. */
  nowSeconds?: () => number;
  store?: HeaderStore;
  /**
   * Where the chain starts. Default: the network's last checkpoint if it has one, else genesis.
   * null forces genesis.
   */
  checkpoint?: Checkpoint | null;
  /** Cap on headers outside the best chain. Default 10,000. */
  maxSideHeaders?: number;
  /** Headers to make room for up front (arrays grow by GROWTH past it). Default 4096. */
  initialCapacity?: number;
}

export interface HeaderInfo {
  height: number;
  /** Internal byte order. */
  hash: Uint8Array;
  chainWork: bigint;
  /** The raw 80-byte header; null only for a checkpoint root (its header is not known). */
  header: Uint8Array | null;
  inBestChain: boolean;
}

export interface AddResult {
  accepted: number;
  duplicates: number;
  /** The first invalid header; processing stopped there. `index` is into the input array. */
  rejected?: { index: number; code: RejectCode; message: string };
  tipChanged: boolean;
  /** Set when the batch moved the best chain off the previous tip. */
  reorg?: { forkHeight: number; disconnected: number };
}

const INITIAL_CAPACITY = 4096;
/**
 * How the arena grows when full (at least to what is needed): it doubles up to GROWTH_DOUBLING_MAX
 * slots (~2 MB of arrays, where slack costs little and copies would be frequent), then grows by a
 * quarter, as Go grows its slices. Its arrays are 120 bytes a slot, so slack is what a
 * long-running appliance pays for: on mainnet today the chain holds 100,000-160,000 headers from
 * the checkpoint, which doubling put in 131,072 or 262,144 slots (up to 31 MB of arrays, half of
 * them empty); a quarter leaves at most 25% (on average ~12%) and needs less while copying (old +
 * new arrays: 2.25 times the headers, not 3). Growing copies the arrays (memcpy, ~1 ms a MB).
 * Issue 18.
 */
const GROWTH = 1.25;
const GROWTH_DOUBLING_MAX = 16_384;
/**
 * Headers of room beyond a stored chain's records when it is opened (the replay then never grows
 * the arena, and two weeks of new blocks fit before the first growth).
 */
const OPEN_HEADROOM = 2016;
/** addOne's verdicts besides a rejection. */
const ADDED = 0;
const DUPLICATE = 1;
const PACKED_SIZE = 48;
/** PACKED_SIZE in 32-bit words, and where the time and nBits words sit in a packed header. */
const PACKED_WORDS = 12;
const PACKED_TIME = 9;
const PACKED_BITS = 10;
const REPLAY_BATCH = 2000;

export class HeaderChain {
  readonly network: NetworkParams;
  private readonly log: Logger;
  private readonly counters: Counters;
  private readonly nowSeconds: () => number;
  private store: HeaderStore | undefined;
  /**
   * Headers accepted in memory whose write failed (a full disk). They are written before anything
   * new is accepted; until then addHeaders refuses, so refused headers are never taken as stored.
   */
  private unstored: Uint8Array[] = [];
  private readonly maxSide: number;
  private readonly targets: TargetCache;
  private readonly interval: number;
  private readonly limitBits: number;

  // Root: the checkpoint or genesis, at slot 0.
  readonly rootHeight: number;
  private readonly rootHasHeader: boolean;
  private readonly rootTime: number;
  private readonly rootNextBits: number | undefined;
  private readonly priorTimes: number[];

  // Arena of headers, indexed by slot.
  private cap = 0;
  private used = 0;
  /** Per slot: version (4) + merkle root, time, bits, nonce (44): the header without prevHash. */
  private packed = new Uint8Array(0);
  private hashes = new Uint8Array(0);
  /**
   * The same two arrays as 32-bit words in the platform's order (little-endian: the words are the
   * header's uint32 fields and readU32LE of the hash bytes): the hot path moves and compares a word
   * at a time, a quarter of the loop iterations V8 runs unoptimised on a cold start.
   */
  private packedWords = new Uint32Array(0);
  private hashWords = new Uint32Array(0);
  private parents = new Int32Array(0);
  private heights = new Int32Array(0);
  private walkBits = new Uint32Array(0);
  private children = new Int32Array(0);
  private works = new Uint32Array(0);
  private readonly free: number[] = [];

  // Hash index: open addressing, linear probing; holds slot + 1, 0 = empty.
  private table = new Int32Array(0);
  private mask = 0;

  // Best chain: slot by (height - rootHeight).
  private best = new Int32Array(0);
  private bestLen = 0;
  private readonly side = new Set<number>();

  // The hot path's hashing: digests of a batch of headers at a time (scratch shared by the process's chains).
  private readonly hasher = sharedHeaderHasher();
  private readonly ctx: ArenaParent;
  /** Set by open() when the file's tail was cut (torn write, bad checksum, or a record failing re-validation). */
  storeCut: StoreCut | undefined;
  /** Lowest fork height of the reorgs during the current addHeaders call. */
  private batchForkHeight = Infinity;

  constructor(opts: HeaderChainOptions) {
    this.network = opts.network;
    this.log = opts.log;
    this.counters = opts.counters;
    this.nowSeconds = opts.nowSeconds ?? (() => Date.now() / 1000);
    this.store = opts.store;
    this.maxSide = opts.maxSideHeaders ?? 10_000;
    this.targets = new TargetCache(this.network.powLimit);
    this.interval = difficultyInterval(this.network);
    this.limitBits = powLimitBits(this.network);
    this.ctx = new ArenaParent(this);
    this.grow(Math.max(16, Math.ceil(opts.initialCapacity ?? INITIAL_CAPACITY)));

    const cp = opts.checkpoint === undefined ? this.network.checkpoints.at(-1) : (opts.checkpoint ?? undefined);
    const slot = this.allocate();
    if (cp) {
      if (!this.network.noRetargeting && cp.height % this.interval !== this.interval - 1) {
        throw new ConfigError(
          'bad-checkpoint',
          `checkpoint at height ${cp.height} is not the last block of a difficulty period (height % ${this.interval} == ${this.interval - 1}); pick one that is`,
        );
      }
      if (cp.hash.length !== 32) throw new ConfigError('bad-checkpoint', 'checkpoint hash must be 32 bytes');
      this.rootHeight = cp.height;
      this.rootHasHeader = false;
      this.priorTimes = cp.recentTimes ?? [];
      this.rootTime = this.priorTimes.at(-1) ?? 0;
      this.rootNextBits = cp.nextBits;
      this.hashes.set(cp.hash, 0);
      this.setWork(slot, cp.chainWork);
      this.walkBits[slot] = cp.nextBits;
    } else {
      const g = this.network.genesisHeader;
      this.rootHeight = 0;
      this.rootHasHeader = true;
      this.priorTimes = [];
      this.rootTime = readU32LE(g, 68);
      this.rootNextBits = undefined;
      this.pack(new Uint32Array(Uint8Array.from(g).buffer), 0, 0);
      this.hashes.set(headerHash80(g), 0);
      this.setWork(slot, this.targets.get(readU32LE(g, 72))?.work ?? 0n);
      this.walkBits[slot] = readU32LE(g, 72);
    }
    this.parents[slot] = -1;
    this.heights[slot] = this.rootHeight;
    this.indexInsert(slot);
    this.best[0] = slot;
    this.bestLen = 1;
    this.updateGauges();
  }

  /**
   * Opens a persisted chain: loads the file, cuts a torn or corrupt tail, re-validates every record
   * (cutting at the first that breaks a rule), then appends new headers to it.
   */
  static async open(path: string, opts: Omit<HeaderChainOptions, 'store'>): Promise<HeaderChain> {
    const chain = new HeaderChain({ ...opts, store: undefined });
    const opened = FileHeaderStore.open(
      path,
      { networkMagic: chain.network.magic, rootHeight: chain.rootHeight, rootHash: chain.hashAt(0) },
      opts.log,
      opts.counters,
    );
    chain.reserve(opened.count + OPEN_HEADROOM);
    try {
      chain.storeCut = HeaderChain.replay(chain, opened, opts.log);
    } catch (err) {
      opened.store.close();
      throw err;
    }
    chain.store = opened.store;
    const tip = chain.tip();
    opts.log.info('header chain loaded', { path, records: opened.store.records, height: tip.height, tip: hashToHex(tip.hash) });
    return chain;
  }

  /** Re-validates loaded records into `chain`; cuts the file at the first record that breaks a rule. */
  private static replay(chain: HeaderChain, opened: OpenedStore, log: Logger): StoreCut | undefined {
    let cut = opened.cut;
    const records: Uint8Array[] = [];
    for (let i = 0; i < opened.count; i++) records.push(opened.headers.subarray(i * HEADER_SIZE, (i + 1) * HEADER_SIZE));
    let from = 0;
    while (from < records.length) {
      const r = chain.addHeaders(records.slice(from, from + REPLAY_BATCH));
      if (!r.rejected) {
        from += REPLAY_BATCH;
        continue;
      }
      const at = from + r.rejected.index;
      const code = r.rejected.code;
      // Not corruption: the parent was evicted as a low-work side header, the side cap is full,
      // or the clock moved back. Skip the record; it stays harmless in the file.
      if (code === 'prev-not-found' || code === 'side-branch-full' || code === 'time-too-new') {
        from = at + 1;
        continue;
      }
      log.warn('a stored header fails validation; cutting the file there', { record: at, code, reason: r.rejected.message });
      cut = opened.store.truncateRecords(at, 'invalid-header');
      break;
    }
    return cut;
  }

  close(): void {
    this.store?.close();
    this.store = undefined;
  }

  // ---- queries ----

  tip(): HeaderInfo {
    return this.info(this.best[this.bestLen - 1]);
  }

  get height(): number {
    return this.rootHeight + this.bestLen - 1;
  }

  has(hash: Uint8Array): boolean {
    return hash.length === 32 && this.lookup(hash, 0) >= 0;
  }

  getByHash(hash: Uint8Array): HeaderInfo | undefined {
    if (hash.length !== 32) return undefined;
    const slot = this.lookup(hash, 0);
    return slot < 0 ? undefined : this.info(slot);
  }

  /** Best chain only. */
  getByHeight(height: number): HeaderInfo | undefined {
    const i = height - this.rootHeight;
    if (!Number.isInteger(i) || i < 0 || i >= this.bestLen) return undefined;
    return this.info(this.best[i]);
  }

  workOf(hash: Uint8Array): bigint | undefined {
    if (hash.length !== 32) return undefined;
    const slot = this.lookup(hash, 0);
    return slot < 0 ? undefined : this.workOfSlot(slot);
  }

  /** Bytes held by the header arrays and index (what grows with the chain), and their capacity. */
  memoryUsage(): { headers: number; capacity: number; bytes: number } {
    const arrays = [this.packed, this.hashes, this.works, this.parents, this.heights, this.walkBits, this.children, this.table, this.best];
    return { headers: this.used - this.free.length, capacity: this.cap, bytes: arrays.reduce((n, a) => n + a.byteLength, 0) };
  }

  /** Headers kept outside the best chain. */
  get sideHeaders(): number {
    return this.side.size;
  }

  /** Core-style block locator of the best chain: 10 dense hashes, then exponential, then the root. */
  locator(): Uint8Array[] {
    const out: Uint8Array[] = [];
    let h = this.height;
    let step = 1;
    for (;;) {
      out.push(this.hashAt(this.best[h - this.rootHeight]));
      if (h === this.rootHeight) break;
      h = Math.max(h - step, this.rootHeight);
      if (out.length > 10) step *= 2;
    }
    return out;
  }

  /**
   * Answers a peer's getheaders as Core does: headers of the best chain after the first locator
   * hash we have on it (the root if none), up to `max`, ending early at `stopHash`.
   */
  headersAfter(locator: readonly Uint8Array[], stopHash?: Uint8Array, max = MAX_HEADERS_PER_MESSAGE): Uint8Array[] {
    const stop = stopHash && stopHash.length === 32 && stopHash.some((b) => b !== 0) ? stopHash : undefined;
    if (locator.length === 0) {
      // Core: an empty locator asks for exactly the stop header.
      if (!stop) return [];
      const slot = this.lookup(stop, 0);
      return slot >= 0 && this.hasRaw(slot) ? [this.rawAt(slot)] : [];
    }
    let from = this.rootHeight;
    for (const hash of locator) {
      if (hash.length !== 32) continue;
      const slot = this.lookup(hash, 0);
      if (slot >= 0 && this.onBest(slot)) {
        from = this.heights[slot];
        break;
      }
    }
    let n = 0;
    for (let h = from + 1; h <= this.height && n < max; h++) {
      n++;
      const slot = this.best[h - this.rootHeight];
      if (stop && equalBytes(this.hashes.subarray(slot * 32, slot * 32 + 32), stop)) break;
    }
    // Views of one buffer, not one array per header: an 80-byte array's memory is a malloc'd
    // block outside V8's heap (V8 keeps only arrays up to 64 bytes inside), and thousands of them
    // freed at a later GC among longer-lived blocks leave glibc unable to return the pages (found
    // in the p2p link driver, issue 18). Measured: the 8,065 shared headers answered to a node
    // catching up from the checkpoint (2000 a getheaders, each encoded), 10 times, in a Node with
    // the main process's flags and malloc settings: anonymous memory 5 s later 22.2/22.5/22.6 MB
    // with an array per header, 20.7/20.4/12.2 with views.
    const all = new Uint8Array(n * HEADER_SIZE);
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const view = all.subarray(i * HEADER_SIZE, (i + 1) * HEADER_SIZE);
      this.rawInto(this.best[from + 1 + i - this.rootHeight], view);
      out.push(view);
    }
    return out;
  }

  /**
   * Validates one header against its parent in this tree without adding it (e.g. to vet what a
   * link sent before relaying it). A known header verifies as ok.
   */
  verify(raw: Uint8Array): HeaderVerdict {
    if (raw.length !== HEADER_SIZE) {
      return { ok: false, code: 'bad-header-size', message: `a block header is 80 bytes, got ${raw.length}` };
    }
    const parent = this.lookup(raw, 4);
    if (parent < 0) {
      return { ok: false, code: 'prev-not-found', message: `its parent ${hashToHex(raw.subarray(4, 36))} is unknown` };
    }
    this.ctx.bind(parent);
    return validateHeader(this.network, raw, this.ctx, this.nowSeconds(), this.targets);
  }

  // ---- adding ----

  /** Validates and adds headers in order; stops at the first invalid one. Persists before returning. */
  addHeaders(raws: readonly Uint8Array[]): AddResult {
    // A store that failed must work again before anything new is accepted (throws if not).
    if (this.unstored.length) this.retryStore();
    const now = this.nowSeconds();
    const startTip = this.best[this.bestLen - 1];
    const startHeight = this.height;
    const startHash = this.hashAt(startTip);
    this.batchForkHeight = Infinity;
    const toStore: Uint8Array[] = [];
    let accepted = 0;
    let duplicates = 0;
    let rejected: AddResult['rejected'];
    // Room for the batch up front, unless its last header is known: a link repeating headers
    // another delivered first (the usual duplicate batch) brings nothing new, and reserving for
    // it grew a full arena for nothing. Should such a batch bring new headers after all,
    // allocate() makes room one at a time.
    if (raws.length && !(raws[raws.length - 1].length === HEADER_SIZE && this.has(headerHash80(raws[raws.length - 1])))) {
      this.reserve(raws.length);
    }
    const hasher = this.hasher;
    // raws[batchStart..hashed) are in the hasher, header i as its entry i - batchStart.
    let batchStart = 0;
    let hashed = 0;

    for (let i = 0; i < raws.length; i++) {
      if (i === hashed) {
        batchStart = i;
        hashed = hasher.hash(raws, i);
      }
      const raw = raws[i];
      if (raw.length !== HEADER_SIZE) {
        rejected = { index: i, code: 'bad-header-size', message: `a block header is 80 bytes, got ${raw.length}` };
        break;
      }
      const verdict = this.addOne(raw, i - batchStart, now);
      if (verdict === ADDED) {
        accepted++;
        toStore.push(raw);
      } else if (verdict === DUPLICATE) duplicates++;
      else {
        rejected = { index: i, code: verdict.code, message: verdict.message };
        break;
      }
    }

    let storeError: unknown;
    if (toStore.length && this.store) {
      try {
        this.store.append(toStore);
      } catch (err) {
        // Valid and in memory, not on disk: kept to be written first when the store works again.
        this.unstored = toStore;
        storeError = err;
      }
    }
    this.counters.inc('accepted', accepted);
    if (duplicates) this.counters.inc('duplicates', duplicates);
    const result: AddResult = { accepted, duplicates, tipChanged: this.best[this.bestLen - 1] !== startTip };
    if (rejected) {
      result.rejected = rejected;
      this.counters.inc(`rejected.${rejected.code}`);
      this.log.warn('rejected header', { code: rejected.code, index: rejected.index, reason: rejected.message });
    }
    const stillOnOldTip = this.height >= startHeight && equalBytes(this.hashAt(this.best[startHeight - this.rootHeight]), startHash);
    if (this.batchForkHeight < startHeight && !stillOnOldTip) {
      result.reorg = { forkHeight: this.batchForkHeight, disconnected: startHeight - this.batchForkHeight };
      this.counters.inc('reorgs');
      this.log.warn('reorganised to a chain with more work', {
        forkHeight: result.reorg.forkHeight,
        disconnected: result.reorg.disconnected,
        height: this.height,
        tip: hashToHex(this.hashAt(this.best[this.bestLen - 1])),
      });
    }
    if (result.tipChanged || accepted) this.updateGauges();
    if (storeError) throw storeError;
    return result;
  }

  /**
   * Validates and adds one header (entry j of the hasher's batch): the body of addHeaders' loop,
   * a method of its own so V8 optimises it after a few hundred headers like any hot function
   * instead of waiting to replace the running loop (test/bench/coldstart.ts).
   */
  private addOne(raw: Uint8Array, j: number, now: number): typeof ADDED | typeof DUPLICATE | Rejection {
    const { digests, digestWords, inputWords } = this.hasher;
    const d = j * 32;
    if (this.lookupWords(digestWords, j * 8) >= 0) return DUPLICATE;
    // The prevHash: words 1..8 of the header.
    const parent = this.lookupWords(inputWords, j * 20 + 1);
    if (parent < 0) {
      return {
        code: 'prev-not-found',
        message: `header ${hashToHex(digests.subarray(d, d + 32))} does not connect: its parent ${hashToHex(raw.subarray(4, 36))} is unknown`,
      };
    }
    this.ctx.bind(parent);
    const bad = checkContext(this.network, raw, 0, this.ctx, now) ?? checkPow(this.targets, readU32LE(raw, 72), digests, d);
    if (bad) return { code: bad.code, message: `header ${hashToHex(digests.subarray(d, d + 32))}: ${bad.message}` };
    const slot = this.insert(inputWords, j * 20, parent, digestWords, j * 8);
    const tip = this.best[this.bestLen - 1];
    if (this.compareWork(slot, tip) > 0) {
      if (parent === tip) {
        this.side.delete(slot);
        if (this.bestLen >= this.best.length) this.growBest(this.bestLen + 1);
        this.best[this.bestLen++] = slot;
      } else {
        this.switchTo(slot);
      }
    } else {
      this.side.add(slot);
      if (this.side.size > this.maxSide && this.evictFor(slot)) {
        return {
          code: 'side-branch-full',
          message: `header ${hashToHex(digests.subarray(d, d + 32))} is on a side branch with less work than the ${this.maxSide} side headers already kept; dropped`,
        };
      }
    }
    return ADDED;
  }

  /** Whether headers accepted in memory still wait to be written (the store failed). */
  get unstoredCount(): number {
    return this.unstored.length;
  }

  /**
   * Writes the headers a failed write left in memory; throws the store's error if it still
   * fails. Returns how many were written.
   */
  retryStore(): number {
    const pending = this.unstored;
    if (pending.length === 0 || !this.store) return 0;
    this.store.append(pending);
    this.unstored = [];
    this.log.info('header store works again; wrote the headers a failed write had left in memory', { count: pending.length });
    return pending.length;
  }

  // ---- internals: parent context ----

  /** Slot of the ancestor of `slot` at `height` (height <= heights[slot]). */
  ancestor(slot: number, height: number): number {
    let s = slot;
    while (this.heights[s] > height) {
      if (this.onBest(s)) return this.best[height - this.rootHeight];
      s = this.parents[s];
    }
    return s;
  }

  /** Timestamp of the block at `height` on the branch through `slot`; 0 when unknown. */
  timeOnBranch(slot: number, height: number): number {
    if (height < this.rootHeight) {
      const i = this.priorTimes.length - 1 - (this.rootHeight - height);
      return i >= 0 ? this.priorTimes[i] : 0;
    }
    return this.timeOf(this.ancestor(slot, height));
  }

  /** Times of `slot` and its n - 1 predecessors, newest first, walking parent links. */
  fillTimes(slot: number, out: Float64Array, n: number): void {
    const packed = this.packedWords;
    const parents = this.parents;
    let s = slot;
    let k = 0;
    for (; k < n && s > 0; k++) {
      out[k] = packed[s * PACKED_WORDS + PACKED_TIME];
      s = parents[s];
    }
    // Reached the root (slot 0): its time, then the checkpoint's earlier times if any.
    for (; k < n; k++) out[k] = this.timeOnBranch(0, this.heights[slot] - k);
  }

  bitsOnBranch(slot: number, height: number): number {
    if (height < this.rootHeight) return 0;
    return this.bitsOf(this.ancestor(slot, height));
  }

  timeOf(slot: number): number {
    return slot === 0 && !this.rootHasHeader ? this.rootTime : this.packedWords[slot * PACKED_WORDS + PACKED_TIME];
  }

  bitsOf(slot: number): number {
    return slot === 0 && !this.rootHasHeader ? this.rootNextBits! : this.packedWords[slot * PACKED_WORDS + PACKED_BITS];
  }

  heightOf(slot: number): number {
    return this.heights[slot];
  }

  walkBitsOf(slot: number): number {
    return this.walkBits[slot];
  }

  fixedNextBitsOf(slot: number): number | undefined {
    return slot === 0 ? this.rootNextBits : undefined;
  }

  private onBest(slot: number): boolean {
    const i = this.heights[slot] - this.rootHeight;
    return i < this.bestLen && this.best[i] === slot;
  }

  private forkPoint(slot: number): number {
    let s = slot;
    while (!this.onBest(s)) s = this.parents[s];
    return s;
  }

  private hasRaw(slot: number): boolean {
    return slot !== 0 || this.rootHasHeader;
  }

  private rawAt(slot: number): Uint8Array {
    return this.rawInto(slot, new Uint8Array(HEADER_SIZE));
  }

  /** Writes the raw header of `slot` into `out` (80 bytes) and returns it. */
  private rawInto(slot: number, out: Uint8Array): Uint8Array {
    const o = slot * PACKED_SIZE;
    out.set(this.packed.subarray(o, o + 4), 0);
    const parent = this.parents[slot];
    if (parent >= 0) out.set(this.hashes.subarray(parent * 32, parent * 32 + 32), 4);
    out.set(this.packed.subarray(o + 4, o + PACKED_SIZE), 36);
    return out;
  }

  private hashAt(slot: number): Uint8Array {
    return this.hashes.slice(slot * 32, slot * 32 + 32);
  }

  private info(slot: number): HeaderInfo {
    return {
      height: this.heights[slot],
      hash: this.hashAt(slot),
      chainWork: this.workOfSlot(slot),
      header: this.hasRaw(slot) ? this.rawAt(slot) : null,
      inBestChain: this.onBest(slot),
    };
  }

  // ---- internals: arena ----

  private allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.used >= this.cap) this.grow(grownCapacity(this.cap, this.used + 1));
    return this.used++;
  }

  private grow(cap: number): void {
    const copy = <T extends Uint8Array | Int32Array | Uint32Array>(old: T, make: (n: number) => T, per: number): T => {
      const next = make(cap * per);
      next.set(old);
      return next;
    };
    this.packed = copy(this.packed, (n) => new Uint8Array(n), PACKED_SIZE);
    this.works = copy(this.works, (n) => new Uint32Array(n), WORK_LIMBS);
    this.hashes = copy(this.hashes, (n) => new Uint8Array(n), 32);
    this.packedWords = new Uint32Array(this.packed.buffer);
    this.hashWords = new Uint32Array(this.hashes.buffer);
    this.parents = copy(this.parents, (n) => new Int32Array(n), 1);
    this.heights = copy(this.heights, (n) => new Int32Array(n), 1);
    this.walkBits = copy(this.walkBits, (n) => new Uint32Array(n), 1);
    this.children = copy(this.children, (n) => new Int32Array(n), 1);
    if (this.best.length === 0) this.best = new Int32Array(cap);
    this.cap = cap;
    // Keep the index at most half full; its size is a power of two (probes wrap with a mask).
    if (this.table.length < cap * 2) {
      const size = 2 ** Math.ceil(Math.log2(cap * 2));
      this.table = new Int32Array(size);
      this.mask = size - 1;
      for (let s = 0; s < this.used; s++) if (this.isLive(s)) this.indexInsert(s);
    }
  }

  private isLive(slot: number): boolean {
    return slot === 0 || this.parents[slot] >= 0;
  }

  /** Grows the best-chain array (by GROWTH) until it holds `length` entries. */
  private growBest(length: number): void {
    if (this.best.length >= length) return;
    const next = new Int32Array(grownCapacity(this.best.length, length));
    next.set(this.best);
    this.best = next;
  }

  /**
   * Makes room for `n` more headers in the arena and the best chain before a batch, so the
   * per-header path never grows an array: growing there, half-way through a fresh process's first
   * batch, made V8 throw away the hot path's optimised code (no feedback yet for the growth call)
   * and compile it again (test/bench/coldstart.ts).
   */
  private reserve(n: number): void {
    if (this.used + n > this.cap) this.grow(grownCapacity(this.cap, this.used + n));
    this.growBest(this.bestLen + n);
  }

  /**
   * Adds the header at words[h..h+20] (its hash at digest[d..d+8]) as a child of `parent`.
   * Words as in the hasher: the header's 32-bit fields in platform order.
   */
  private insert(words: Uint32Array, h: number, parent: number, digest: Uint32Array, d: number): number {
    const slot = this.allocate();
    this.pack(words, h, slot);
    const hashWords = this.hashWords;
    const o = slot * 8;
    for (let k = 0; k < 8; k++) hashWords[o + k] = digest[d + k];
    this.parents[slot] = parent;
    this.heights[slot] = this.heights[parent] + 1;
    this.children[slot] = 0;
    this.children[parent]++;
    const bits = this.packedWords[slot * PACKED_WORDS + PACKED_BITS];
    this.walkBits[slot] = this.heights[slot] % this.interval === 0 || bits !== this.limitBits ? bits : this.walkBits[parent];
    this.addWork(slot, parent, this.targets.get(bits)!.workLimbs);
    this.indexInsert(slot);
    return slot;
  }

  /** Makes `newTip` (more work than the current tip, not its child) the best chain's tip. */
  private switchTo(newTip: number): void {
    const fork = this.forkPoint(newTip);
    if (this.heights[fork] < this.batchForkHeight) this.batchForkHeight = this.heights[fork];
    const forkIdx = this.heights[fork] - this.rootHeight;
    for (let i = forkIdx + 1; i < this.bestLen; i++) this.side.add(this.best[i]);
    const newLen = this.heights[newTip] - this.rootHeight + 1;
    this.growBest(newLen);
    for (let s = newTip; s !== fork; s = this.parents[s]) {
      this.best[this.heights[s] - this.rootHeight] = s;
      this.side.delete(s);
    }
    this.bestLen = newLen;
    while (this.side.size > this.maxSide) this.evictFor(-1);
  }

  /**
   * Evicts the side leaf with the least work. A newcomer (`fresh`) loses ties. Returns true when
   * the newcomer itself was evicted.
   */
  private evictFor(fresh: number): boolean {
    let victim = -1;
    for (const s of this.side) {
      if (s === fresh || this.children[s] !== 0) continue;
      if (victim < 0 || this.compareWork(s, victim) < 0) victim = s;
    }
    if (fresh >= 0 && (victim < 0 || this.compareWork(fresh, victim) <= 0)) victim = fresh;
    if (victim < 0) return false;
    this.side.delete(victim);
    this.indexRemove(victim);
    this.children[this.parents[victim]]--;
    this.parents[victim] = -1;
    this.free.push(victim);
    this.counters.inc('side-evicted');
    return victim === fresh;
  }

  // ---- internals: packed headers and work limbs ----

  /** Packs the header at words[h..h+20] into `slot`: word 0 (version) and words 9..19 (merkle root, time, bits, nonce). */
  private pack(words: Uint32Array, h: number, slot: number): void {
    // Word loops: cheaper than subarray views per header on this hot path.
    const o = slot * PACKED_WORDS;
    const p = this.packedWords;
    p[o] = words[h];
    for (let k = 1; k < PACKED_WORDS; k++) p[o + k] = words[h + 8 + k];
  }

  private addWork(slot: number, parent: number, add: Uint32Array): void {
    const w = this.works;
    const o = slot * WORK_LIMBS;
    const p = parent * WORK_LIMBS;
    let carry = 0;
    for (let i = 0; i < WORK_LIMBS; i++) {
      const sum = w[p + i] + add[i] + carry;
      w[o + i] = sum >>> 0;
      carry = sum > 0xffffffff ? 1 : 0;
    }
  }

  private compareWork(a: number, b: number): number {
    const w = this.works;
    for (let i = WORK_LIMBS - 1; i >= 0; i--) {
      const x = w[a * WORK_LIMBS + i];
      const y = w[b * WORK_LIMBS + i];
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  }

  private workOfSlot(slot: number): bigint {
    let v = 0n;
    for (let i = WORK_LIMBS - 1; i >= 0; i--) v = (v << 32n) | BigInt(this.works[slot * WORK_LIMBS + i]);
    return v;
  }

  private setWork(slot: number, value: bigint): void {
    if (value < 0n || value >> BigInt(32 * WORK_LIMBS) !== 0n) {
      throw new ConfigError('bad-checkpoint', `checkpoint chain work ${value} does not fit in ${32 * WORK_LIMBS} bits`);
    }
    let v = value;
    for (let i = 0; i < WORK_LIMBS; i++) {
      this.works[slot * WORK_LIMBS + i] = Number(v & 0xffffffffn);
      v >>= 32n;
    }
  }

  // ---- internals: hash index ----

  private home(hashes: Uint8Array, offset: number): number {
    // Bytes 0..3 of a block hash (internal order) are its least significant: uniformly random.
    // The same value as the hash's first word in hashWords (little-endian platforms only: HeaderBatchHasher checks).
    return readU32LE(hashes, offset) & this.mask;
  }

  /** lookup for a hash given as 8 words at words[w..w+8] (as in hashWords): the hot path's. */
  private lookupWords(words: Uint32Array, w: number): number {
    const hw = this.hashWords;
    const table = this.table;
    const mask = this.mask;
    for (let p = words[w] & mask; ; p = (p + 1) & mask) {
      const v = table[p];
      if (v === 0) return -1;
      const o = (v - 1) * 8;
      let k = 0;
      while (k < 8 && hw[o + k] === words[w + k]) k++;
      if (k === 8) return v - 1;
    }
  }

  /** Slot of the header whose hash is buf[offset..offset+32], or -1. */
  private lookup(buf: Uint8Array, offset: number): number {
    const hs = this.hashes;
    for (let p = this.home(buf, offset); ; p = (p + 1) & this.mask) {
      const v = this.table[p];
      if (v === 0) return -1;
      const o = (v - 1) * 32;
      let same = true;
      for (let k = 0; k < 32; k++) {
        if (hs[o + k] !== buf[offset + k]) {
          same = false;
          break;
        }
      }
      if (same) return v - 1;
    }
  }

  private indexInsert(slot: number): void {
    let p = this.hashWords[slot * 8] & this.mask;
    while (this.table[p] !== 0) p = (p + 1) & this.mask;
    this.table[p] = slot + 1;
  }

  private indexRemove(slot: number): void {
    let i = this.hashWords[slot * 8] & this.mask;
    while (this.table[i] !== slot + 1) i = (i + 1) & this.mask;
    // Backward-shift deletion keeps every probe sequence intact without tombstones.
    let j = i;
    for (;;) {
      this.table[i] = 0;
      for (;;) {
        j = (j + 1) & this.mask;
        const v = this.table[j];
        if (v === 0) return;
        const k = this.hashWords[(v - 1) * 8] & this.mask;
        const between = i <= j ? i < k && k <= j : i < k || k <= j;
        if (!between) break;
      }
      this.table[i] = this.table[j];
      i = j;
    }
  }

  private updateGauges(): void {
    this.counters.set('height', this.height);
    this.counters.set('side-headers', this.side.size);
  }
}

/** The ParentContext of a slot in a HeaderChain; one reusable instance per chain (no allocation). */
class ArenaParent implements ParentContext {
  height = 0;
  time = 0;
  bits = 0;
  fixedNextBits: number | undefined;
  private slot = 0;

  constructor(private readonly chain: HeaderChain) {}

  bind(slot: number): void {
    this.slot = slot;
    this.height = this.chain.heightOf(slot);
    this.time = this.chain.timeOf(slot);
    this.bits = this.chain.bitsOf(slot);
    this.fixedNextBits = this.chain.fixedNextBitsOf(slot);
  }

  timeAt(height: number): number {
    return this.chain.timeOnBranch(this.slot, height);
  }

  bitsAt(height: number): number {
    return this.chain.bitsOnBranch(this.slot, height);
  }

  walkBackBits(): number {
    return this.chain.walkBitsOf(this.slot);
  }

  timesInto(out: Float64Array, n: number): void {
    this.chain.fillTimes(this.slot, out, n);
  }
}

/** The next size of an array of `current` entries that must hold `needed` (GROWTH, GROWTH_DOUBLING_MAX). */
function grownCapacity(current: number, needed: number): number {
  return Math.max(needed, current < GROWTH_DOUBLING_MAX ? current * 2 : Math.ceil(current * GROWTH));
}
