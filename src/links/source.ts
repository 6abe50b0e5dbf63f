// What the internet "header source" links (Esplora, Electrum, headers over DNS) share: a
// source answers "which headers are at these heights" and "what is your tip"; this module turns
// that into the Link contract (headers following a locator), validates every answer before it
// is reported, and marks a source that is caught lying so it is used no more until restart.
// The main process re-validates everything against the full chain rules; this check is the first
// line, the one that lets a link name a liar.
import { checkProofOfWork, headerHash, HEADER_SIZE } from '../chain/header.js';
import { AltnetError, InvalidDataError } from '../util/errors.js';
import type { LinkOptions } from './options.js';
import { equalBytes, hashToHex, toHex } from '../util/bytes.js';
import type { Link, LinkCapabilities, LinkContext, LinkState, TipReport } from './link.js';
import type { NetworkParams } from '../chain/networks.js';
import { readFileSync } from 'node:fs';
import { realTimers, type Timers } from '../util/timers.js';

export { realTimers, type Timers };

// ---------------------------------------------------------------------------------------------
// Errors a source raises. Each has a stable code (used as the counter name).

/** The source did not answer in time. Counted; the source is not marked for it. */
export class SourceTimeoutError extends AltnetError {
  constructor(what: string, ms: number) {
    super('timeout', `${what}: no answer within ${ms} ms; check the server address or raise the link's timeout`);
  }
}

/** The source could not be reached or dropped the connection. Counted, retried later. */
export class SourceUnavailableError extends AltnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message, options);
  }
}

/**
 * The source said something provably false (bad proof of work, a header that is not the one
 * asked for, headers that do not connect, a tip it cannot back). The link marks the source.
 */
export class SourceLieError extends InvalidDataError {
  constructor(
    readonly kind: LieKind,
    message: string,
  ) {
    super(`lie-${kind}`, message);
  }
}

export type LieKind =
  | 'bad-pow'
  | 'disconnected'
  | 'wrong-header-for-hash'
  | 'tip-not-backed'
  | 'tip-inconsistent'
  | 'wrong-network';

/** Run `op` with a deadline; `cancel` undoes whatever the operation left in flight. */
export function withTimeout<T>(
  timers: Timers,
  ms: number,
  what: string,
  op: () => Promise<T>,
  cancel?: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const handle = timers.setTimeout(() => {
      if (done) return;
      done = true;
      try {
        cancel?.();
      } catch {
        // cancelling is best effort; the timeout is what the caller needs to hear about
      }
      reject(new SourceTimeoutError(what, ms));
    }, ms);
    op().then(
      (v) => {
        if (done) return;
        done = true;
        timers.clearTimeout(handle);
        resolve(v);
      },
      (e: unknown) => {
        if (done) return;
        done = true;
        timers.clearTimeout(handle);
        reject(e);
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Rate limiting: a token bucket, so a link never hammers a public server.

export class RateLimiter {
  private tokens: number;
  private last: number;
  private waiting: Array<() => void> = [];
  private timer: unknown = null;

  /** `perSecond` 0 means unlimited. */
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly timers: Timers = realTimers,
  ) {
    this.tokens = burst;
    this.last = timers.now();
  }

  /** Resolves when one request may go out. */
  take(): Promise<void> {
    if (this.perSecond <= 0) return Promise.resolve();
    this.refill();
    if (this.waiting.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  /** Releases every waiter (used on stop, so nothing hangs). */
  drain(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    for (const w of this.waiting.splice(0)) w();
  }

  private refill(): void {
    const now = this.timers.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
  }

  private schedule(): void {
    if (this.timer !== null) return;
    const wait = Math.max(1, Math.ceil(((1 - this.tokens) / this.perSecond) * 1000));
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.refill();
      while (this.waiting.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        this.waiting.shift()!();
      }
      if (this.waiting.length > 0) this.schedule();
    }, wait);
  }
}

// ---------------------------------------------------------------------------------------------
// Pure validation of a fetched header run.

export type ChainCheck =
  | { ok: true; hashes: Uint8Array[] }
  | { ok: false; kind: LieKind; index: number; reason: string };

/**
 * Checks that `headers` are 80 bytes each, meet their own claimed target (capped at the
 * network's pow limit), and that each one's previous-hash is the hash before it, the first
 * one's being `prevHash`.
 */
export function checkHeaderRun(headers: Uint8Array[], prevHash: Uint8Array, powLimit: bigint): ChainCheck {
  const hashes: Uint8Array[] = [];
  let prev = prevHash;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    if (h.length !== HEADER_SIZE) {
      return { ok: false, kind: 'disconnected', index: i, reason: `header ${i} is ${h.length} bytes, not 80` };
    }
    if (!equalBytes(h.subarray(4, 36), prev)) {
      return {
        ok: false,
        kind: 'disconnected',
        index: i,
        reason: `header ${i} does not follow ${hashToHex(prev)}`,
      };
    }
    if (!checkProofOfWork(h, powLimit)) {
      return { ok: false, kind: 'bad-pow', index: i, reason: `header ${i} does not meet its target` };
    }
    prev = headerHash(h);
    hashes.push(prev);
  }
  return { ok: true, hashes };
}

// ---------------------------------------------------------------------------------------------
// The source interface each driver implements.

export interface SourceTip {
  height: number;
  /** Internal byte order. */
  hash?: Uint8Array;
  /** The tip's own 80-byte header when the source hands it out (checked before use). */
  header?: Uint8Array;
}

export interface HeaderSource {
  /** The source's claimed best tip, or null when the protocol has no such question (DNS). */
  fetchTip(): Promise<SourceTip | null>;
  /**
   * Headers at heights start, start+1, ... (at most `count`). Fewer means the source has no
   * more (its chain ends there). Never more than `count`.
   */
  fetchHeaders(start: number, count: number): Promise<Uint8Array[]>;
  /** Hash at a height in the source's best chain, null when it has none there. */
  hashAt(height: number): Promise<Uint8Array | null>;
  /** Height of a block hash in the source's best chain (null: not in it). Only some protocols can. */
  heightOf?(hash: Uint8Array): Promise<number | null>;
  /** Headers per request the protocol serves well. */
  readonly batch: number;
  /** Whether walking back from the tip in `batch` steps to find the locator is affordable. */
  readonly canScanBack: boolean;
  open?(): Promise<void>;
  close(): Promise<void>;
  /** Tip announcements pushed by the source (Electrum subscriptions). */
  onTip?(handler: (tip: SourceTip) => void): void;
}

export interface SourceLinkOptions {
  name: string;
  capabilities: LinkCapabilities;
  source: HeaderSource;
  ctx: LinkContext;
  /** Most headers delivered per requestHeaders call. */
  maxHeaders?: number;
  /** How far below the tip to look for the locator when the source cannot look hashes up. */
  maxScanBack?: number;
  /** Consecutive failures (timeouts, bad answers) before the link reports itself degraded. */
  failuresBeforeDegraded?: number;
  sendTx?: (raw: Uint8Array) => Promise<void>;
  /**
   * Ask the source on its own every pollMs: new headers after the last one delivered (or, before
   * any, its tip). 0: only when asked. For sources that cannot push (Esplora, DNS).
   */
  pollMs?: number;
  timers?: Timers;
}

const HEIGHT_CACHE_LIMIT = 20_000;

/**
 * Heights of block hashes a link may rely on: the network's checkpoints and genesis (trusted
 * without asking anyone) and what this link learned from answers it validated (bounded).
 */
export class KnownHeights {
  private readonly anchors = new Map<string, number>();
  private readonly learned = new Map<string, number>();

  constructor(network: NetworkParams) {
    this.anchors.set(toHex(headerHash(network.genesisHeader)), 0);
    for (const cp of network.checkpoints) this.anchors.set(toHex(cp.hash), cp.height);
  }

  anchor(hash: Uint8Array): number | undefined {
    return this.anchors.get(toHex(hash));
  }

  learnedHeight(hash: Uint8Array): number | undefined {
    return this.learned.get(toHex(hash));
  }

  /** Anchor or learned height. */
  heightOf(hash: Uint8Array): number | undefined {
    return this.anchor(hash) ?? this.learnedHeight(hash);
  }

  remember(height: number, hash: Uint8Array): void {
    const key = toHex(hash);
    this.learned.delete(key);
    this.learned.set(key, height);
    if (this.learned.size > HEIGHT_CACHE_LIMIT) {
      const oldest = this.learned.keys().next().value;
      if (oldest !== undefined) this.learned.delete(oldest);
    }
  }

  /** Heights of the gateway's recent best chain (consecutive headers from fromHeight). */
  learnContext(fromHeight: number, headers: Uint8Array[]): void {
    if (!Number.isSafeInteger(fromHeight) || fromHeight < 0) return;
    headers.slice(-2016).forEach((h, i, kept) => {
      if (h.length === HEADER_SIZE) this.remember(fromHeight + (headers.length - kept.length) + i, headerHash(h));
    });
  }

  forget(hash: Uint8Array): void {
    this.learned.delete(toHex(hash));
  }
}

/**
 * The part of a link that keeps it honest and alive: operations run one at a time; a timeout or
 * bad answer is counted and logged (degraded after several in a row); a lie marks the source,
 * which is then used no more until restart. Nothing escapes as an exception.
 */
export class SourceGuard {
  private queue: Promise<void> = Promise.resolve();
  private liar: string | null = null;
  private failures = 0;
  private state: LinkState = 'stopped';
  stopped = false;

  constructor(
    private readonly name: string,
    private readonly ctx: LinkContext,
    private readonly failuresBeforeDegraded = 3,
  ) {}

  get markedReason(): string | null {
    return this.liar;
  }

  /** Queues an operation behind the others; resolves when it is done, never rejects. */
  run(what: string, op: () => Promise<void>): Promise<void> {
    const next = this.queue.then(() => this.guarded(what, op));
    this.queue = next;
    return next;
  }

  /** Waits for queued operations (used on stop). */
  idle(): Promise<void> {
    return this.queue;
  }

  /** For operations whose caller must hear about failure (sending a transaction). */
  refuseIfMarked(): void {
    if (this.liar) {
      this.ctx.counters.inc('refused.marked');
      throw new AltnetError('source-marked', `link ${this.name} is marked (${this.liar}); restart to use it again`);
    }
  }

  private async guarded(what: string, op: () => Promise<void>): Promise<void> {
    if (this.stopped) return;
    if (this.liar) {
      this.ctx.counters.inc('refused.marked');
      this.ctx.log.debug('source is marked, request ignored', { link: this.name, reason: this.liar });
      return;
    }
    try {
      await op();
      this.succeeded();
    } catch (e) {
      if (this.stopped) return;
      if (e instanceof SourceLieError) this.mark(e);
      else this.countFailure(what, e);
    }
  }

  succeeded(): void {
    if (this.stopped || this.liar) return;
    this.failures = 0;
    if (this.state !== 'up') this.setState('up');
  }

  countFailure(what: string, e: unknown): void {
    const code = e instanceof AltnetError ? e.code : 'error';
    const msg = e instanceof Error ? e.message : String(e);
    this.ctx.counters.inc(code === 'timeout' ? 'timeouts' : 'failures');
    this.ctx.counters.inc(`failure.${code}`);
    this.ctx.log.warn(`${what} failed`, { link: this.name, code, error: msg });
    this.failures++;
    if (this.failures >= this.failuresBeforeDegraded && this.state !== 'degraded') {
      this.setState('degraded', `${this.failures} failures in a row, last: ${msg}`);
    }
  }

  mark(e: SourceLieError): void {
    if (this.liar) return;
    this.liar = `${e.kind}: ${e.message}`;
    this.ctx.counters.inc('lies');
    this.ctx.counters.inc(`lie.${e.kind}`);
    this.ctx.log.error('source lied; marked, not used again until restart', {
      link: this.name,
      kind: e.kind,
      error: e.message,
    });
    this.setState('degraded', `marked as a liar (${e.kind}): ${e.message}`);
  }

  setState(s: LinkState, reason?: string): void {
    this.state = s;
    this.ctx.events.state(s, reason);
  }
}

/**
 * A Link over a HeaderSource. Requests are served one at a time. requestHeaders never rejects:
 * timeouts and bad answers are counted and logged, lies mark the source.
 */
export class SourceLink implements Link {
  readonly name: string;
  readonly capabilities: LinkCapabilities;
  private readonly source: HeaderSource;
  private readonly ctx: LinkContext;
  private readonly maxHeaders: number;
  private readonly maxScanBack: number;
  private readonly sendTxImpl?: (raw: Uint8Array) => Promise<void>;
  private readonly known: KnownHeights;
  private readonly guard: SourceGuard;
  /** Hash and height of the last header this link delivered (to extend with pushed tips). */
  private last: { height: number; hash: Uint8Array } | null = null;
  private readonly pollMs: number;
  private readonly timers: Timers;
  private pollTimer: unknown = null;

  constructor(opts: SourceLinkOptions) {
    this.pollMs = opts.pollMs ?? 0;
    this.timers = opts.timers ?? realTimers;
    this.name = opts.name;
    this.capabilities = opts.capabilities;
    this.source = opts.source;
    this.ctx = opts.ctx;
    this.maxHeaders = opts.maxHeaders ?? 2000;
    this.maxScanBack = opts.maxScanBack ?? 20_160;
    this.guard = new SourceGuard(opts.name, opts.ctx, opts.failuresBeforeDegraded);
    this.known = new KnownHeights(opts.ctx.network);
    this.sendTxImpl = opts.sendTx;
    if (opts.sendTx) this.sendTx = (raw) => this.doSendTx(raw);
    this.source.onTip?.((tip) => {
      void this.guard.run('tip announcement', () => this.onPushedTip(tip));
    });
  }

  sendTx?: (raw: Uint8Array) => Promise<void>;

  /** Why the source was marked a liar, or null. */
  get markedReason(): string | null {
    return this.guard.markedReason;
  }

  async start(): Promise<void> {
    this.guard.stopped = false;
    this.guard.setState('starting');
    try {
      await this.source.open?.();
      this.guard.succeeded();
    } catch (e) {
      // Not fatal: the source is asked again on the next request.
      this.guard.countFailure('start', e);
    }
    this.schedulePoll();
  }

  private schedulePoll(): void {
    if (this.pollMs <= 0 || this.guard.stopped || this.pollTimer !== null) return;
    this.pollTimer = this.timers.setTimeout(() => {
      this.pollTimer = null;
      void this.guard
        .run('poll', async () => {
          this.ctx.counters.inc('polls');
          if (this.last) {
            await this.fetchFollowing([this.last.hash]);
            return;
          }
          const tip = await this.source.fetchTip();
          if (!tip) return;
          this.checkTip(tip);
          this.reportTip(await this.backTip(tip));
        })
        .then(() => this.schedulePoll());
    }, this.pollMs);
  }

  async stop(): Promise<void> {
    this.guard.stopped = true;
    if (this.pollTimer !== null) this.timers.clearTimeout(this.pollTimer);
    this.pollTimer = null;
    await this.source.close();
    await this.guard.idle();
    this.guard.setState('stopped');
  }

  requestHeaders(locator: Uint8Array[]): Promise<void> {
    return this.guard.run('headers request', () => this.fetchFollowing(locator));
  }

  /**
   * The gateway's recent best chain: its heights let a locator be resolved with one question
   * to the source (still checked against the source before use) instead of a search.
   */
  setContext(fromHeight: number, headers: Uint8Array[]): void {
    this.known.learnContext(fromHeight, headers);
  }

  private async doSendTx(raw: Uint8Array): Promise<void> {
    this.guard.refuseIfMarked();
    await this.sendTxImpl!(raw);
  }

  private remember(height: number, hash: Uint8Array): void {
    this.known.remember(height, hash);
  }

  /** Checks a tip claim on its own: its header (when given) meets its target and hashes right. */
  private checkTip(tip: SourceTip): void {
    if (!Number.isSafeInteger(tip.height) || tip.height < 0) {
      throw new SourceLieError('tip-inconsistent', `claimed tip height ${String(tip.height)} is not a height`);
    }
    if (tip.header) {
      if (tip.header.length !== HEADER_SIZE || !checkProofOfWork(tip.header, this.ctx.network.powLimit)) {
        throw new SourceLieError('bad-pow', `claimed tip at height ${tip.height} does not meet its target`);
      }
      const h = headerHash(tip.header);
      if (tip.hash && !equalBytes(h, tip.hash)) {
        throw new SourceLieError(
          'wrong-header-for-hash',
          `tip header hashes to ${hashToHex(h)}, not the claimed ${hashToHex(tip.hash)}`,
        );
      }
      tip.hash = h;
    }
  }

  private reportTip(tip: SourceTip): void {
    const report: TipReport = { height: tip.height };
    if (tip.hash) report.hash = tip.hash;
    this.ctx.events.tip?.(report);
  }

  /** Finds the newest locator entry the source has in its best chain. */
  private async resolveLocator(
    locator: Uint8Array[],
    tip: SourceTip | null,
  ): Promise<{ height: number; hash: Uint8Array } | null> {
    let found: { height: number; hash: Uint8Array; index: number } | null = null;
    for (let index = 0; index < locator.length && !found; index++) {
      const hash = locator[index];
      const anchor = this.known.anchor(hash);
      if (anchor !== undefined) {
        found = { height: anchor, hash, index };
        break;
      }
      const cached = this.known.learnedHeight(hash);
      if (cached !== undefined) {
        const there = await this.source.hashAt(cached);
        if (there && equalBytes(there, hash)) found = { height: cached, hash, index };
        else this.known.forget(hash); // the source reorganised past it
        continue;
      }
      if (this.source.heightOf) {
        // The source's word; the run that follows must connect to it or the source lied.
        const h = await this.source.heightOf(hash);
        if (h !== null) found = { height: h, hash, index };
      }
    }
    if (found?.index === 0 || this.source.heightOf || !this.source.canScanBack || !tip) return found;
    // Newer locator entries than the one found may be in the source's chain without this link
    // knowing their heights: look for them just below the tip.
    const newer = new Map(locator.slice(0, found ? found.index : locator.length).map((h) => [toHex(h), h]));
    const floor = Math.max(found ? found.height + 1 : 0, tip.height - this.maxScanBack);
    for (let top = tip.height; top >= floor; ) {
      const start = Math.max(floor, top - this.source.batch + 1);
      const run = await this.source.fetchHeaders(start, top - start + 1);
      for (let i = run.length - 1; i >= 0; i--) {
        if (run[i].length !== HEADER_SIZE) continue;
        const hash = headerHash(run[i]);
        if (newer.has(toHex(hash))) {
          this.ctx.counters.inc('locator.scanned');
          return { height: start + i, hash };
        }
      }
      top = start - 1;
    }
    return found;
  }

  private async fetchFollowing(locator: Uint8Array[]): Promise<void> {
    let tip = await this.source.fetchTip();
    if (tip) {
      this.checkTip(tip);
      tip = await this.backTip(tip);
    }
    const fork = await this.resolveLocator(locator, tip);
    if (!fork) {
      this.ctx.counters.inc('locator.unresolved');
      this.ctx.log.info('no locator entry is in the source chain; nothing to fetch', {
        link: this.name,
        locator: locator.length,
        tip: tip?.height,
      });
      if (tip) this.reportTip(tip);
      return;
    }
    if (tip && tip.height <= fork.height) {
      if (tip.height === fork.height && tip.hash && !equalBytes(tip.hash, fork.hash)) {
        // Either the source reorganised between the two questions, or it contradicts itself.
        tip = await this.recheckTip(tip, fork.height, fork.hash);
      }
      this.reportTip(tip);
      return;
    }
    const want = Math.min(this.maxHeaders, tip ? tip.height - fork.height : this.maxHeaders);
    const start = fork.height + 1;
    const headers: Uint8Array[] = [];
    while (headers.length < want) {
      const n = Math.min(this.source.batch, want - headers.length);
      const got = await this.source.fetchHeaders(start + headers.length, n);
      if (got.length > n) {
        throw new SourceLieError('tip-inconsistent', `asked for ${n} headers, got ${got.length}`);
      }
      headers.push(...got);
      if (got.length < n) break;
    }
    const check = checkHeaderRun(headers, fork.hash, this.ctx.network.powLimit);
    if (!check.ok) {
      if (check.kind === 'disconnected') await this.reorgOrLie(fork, start, headers, check.index);
      throw new SourceLieError(check.kind, `at height ${start + check.index}: ${check.reason}`);
    }
    const lastHeight = fork.height + headers.length;
    const lastHash = headers.length ? check.hashes[check.hashes.length - 1] : fork.hash;
    if (tip) {
      if (headers.length < want) {
        tip = await this.recheckShortRun(tip, lastHeight);
      } else if (lastHeight === tip.height && tip.hash && !equalBytes(tip.hash, lastHash)) {
        tip = await this.recheckTip(tip, lastHeight, lastHash);
      }
    }
    for (let i = 0; i < check.hashes.length; i++) this.remember(start + i, check.hashes[i]);
    if (headers.length > 0) {
      this.last = { height: lastHeight, hash: lastHash };
      this.ctx.counters.inc('headers', headers.length);
      this.ctx.log.debug('headers fetched and checked', { link: this.name, from: start, count: headers.length });
      this.ctx.events.headers(headers);
    }
    if (tip) this.reportTip(tip);
    else if (headers.length < want && headers.length > 0) {
      // The source's chain ends here: that is its tip (headers over DNS has no other way to say).
      this.reportTip({ height: lastHeight, hash: lastHash });
    }
  }

  /**
   * A tip claim must name a block the source's own chain has at that height. A source whose tip
   * moved between two questions is asked again; one that repeats an unbacked claim lied.
   */
  private async backTip(tip: SourceTip): Promise<SourceTip> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const there = await this.source.hashAt(tip.height);
      if (there && (!tip.hash || equalBytes(there, tip.hash))) {
        tip.hash = there;
        return tip;
      }
      const again = await this.source.fetchTip();
      if (!again) return tip;
      this.checkTip(again);
      const moved = again.height > tip.height || (again.height === tip.height && !!again.hash && !!tip.hash && !equalBytes(again.hash, tip.hash));
      if (!moved) {
        throw new SourceLieError(
          'tip-not-backed',
          `claims tip at height ${tip.height}${tip.hash ? ' ' + hashToHex(tip.hash) : ''} but its chain has ${there ? hashToHex(there) : 'no block'} there`,
        );
      }
      this.ctx.counters.inc('tip.moved');
      tip = again;
    }
    throw new SourceUnavailableError('the source tip keeps changing; try again later');
  }

  /**
   * The source served fewer headers than its tip claim implies. A source whose chain shrank
   * (reorganisation) or that now serves the next header had a passing fault; one that still
   * claims a higher tip and still has nothing after `lastHeight` cannot back its claim.
   */
  private async recheckShortRun(old: SourceTip, lastHeight: number): Promise<SourceTip> {
    const again = await this.source.fetchTip();
    if (!again) return old;
    this.checkTip(again);
    if (again.height <= lastHeight) return again;
    const next = await this.source.fetchHeaders(lastHeight + 1, 1);
    if (next.length > 0) {
      this.ctx.counters.inc('tip.short-run');
      return again;
    }
    throw new SourceLieError(
      'tip-not-backed',
      `claims tip ${again.height} but has no header after height ${lastHeight}`,
    );
  }

  /**
   * The delivered run ends at (height, hash) but does not match the claimed tip. Ask for the
   * tip again: a source that moved on is fine; one that repeats a claim it cannot back lied.
   */
  private async recheckTip(old: SourceTip, height: number, hash: Uint8Array): Promise<SourceTip> {
    const again = await this.source.fetchTip();
    if (!again) return old;
    this.checkTip(again);
    if (again.height > old.height) {
      this.ctx.counters.inc('tip.moved');
      return again;
    }
    if (again.height === height && (!again.hash || equalBytes(again.hash, hash))) return again;
    if (again.height < height) return again; // it reorganised to a shorter chain; the run stands
    const kind: LieKind = again.height > height ? 'tip-not-backed' : 'tip-inconsistent';
    throw new SourceLieError(
      kind,
      `claims tip ${again.height}${again.hash ? ' ' + hashToHex(again.hash) : ''} but serves headers only up to ${height} ${hashToHex(hash)}`,
    );
  }

  /**
   * Headers fetched over several questions may straddle a reorganisation of the source. A break
   * in the run is a lie only if the source still stands by both sides of it (or contradicts a
   * checkpoint); otherwise the request failed and the next one starts afresh.
   */
  private async reorgOrLie(
    fork: { height: number; hash: Uint8Array },
    start: number,
    headers: Uint8Array[],
    index: number,
  ): Promise<void> {
    if (headers[index].length !== HEADER_SIZE) return;
    const below = start + index - 1;
    if (index === 0 && this.known.anchor(fork.hash) === fork.height) return; // disagrees with a checkpoint
    const expected = index === 0 ? fork.hash : headerHash(headers[index - 1]);
    const [thereBelow, there] = [await this.source.hashAt(below), await this.source.hashAt(below + 1)];
    const standsByBoth = !!thereBelow && equalBytes(thereBelow, expected) && !!there && equalBytes(there, headerHash(headers[index]));
    if (standsByBoth) return;
    this.ctx.counters.inc('reorg.during-request');
    throw new SourceUnavailableError(`the source reorganised around height ${below + 1} during the request; will ask again`);
  }

  private async onPushedTip(tip: SourceTip): Promise<void> {
    this.checkTip(tip);
    tip = await this.backTip(tip);
    this.ctx.counters.inc('tip.pushed');
    if (this.last && tip.height > this.last.height + 1) {
      // Several blocks since the last header delivered (missed notifications, a reconnect).
      await this.fetchFollowing([this.last.hash]);
      return;
    }
    if (tip.header && this.last && tip.height === this.last.height + 1) {
      const check = checkHeaderRun([tip.header], this.last.hash, this.ctx.network.powLimit);
      if (check.ok) {
        this.remember(tip.height, check.hashes[0]);
        this.last = { height: tip.height, hash: check.hashes[0] };
        this.ctx.counters.inc('headers');
        this.ctx.events.headers([tip.header]);
      }
      // Not connecting is no lie: the source may have reorganised; the next request sorts it out.
    }
    this.reportTip(tip);
  }
}

// ---------------------------------------------------------------------------------------------
// Options that need I/O to check (the table in ../options.ts checks only their form).

/** Reads a PEM certificate file named by an option; undefined when the option is absent. */
export function readPemOption(o: LinkOptions, key: string): Buffer | undefined {
  const path = o.text(key);
  if (!path) return undefined;
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (e) {
    throw o.error(key, `cannot read it (${(e as Error).message})`);
  }
  if (!pem.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) throw o.error(key, 'not a PEM certificate');
  return pem;
}
