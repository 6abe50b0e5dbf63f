// SourceLink: the Link contract (headers following a locator) over a HeaderSource that answers
// only "which headers are at these heights" and "what is your tip". Every answer is checked before
// it is reported; a source that cannot back its claims is marked. The main process re-validates
// everything against the full chain rules; this check is the first line, the one that lets a
// link name a liar.
import { checkProofOfWork, headerHash, HEADER_SIZE, MAX_HEADERS_PER_MESSAGE } from '../../chain/header.js';
import { equalBytes, hashToHex, toHex } from '../../util/bytes.js';
import { realTimers, type Timers } from '../../util/clock.js';
import type { Link, LinkCapabilities, LinkContext, TipReport } from '../link.js';
import { checkHeaderRun } from './check.js';
import { SourceLieError, SourceUnavailableError, type LieKind } from './errors.js';
import { SourceGuard } from './guard.js';
import { KnownHeights } from './heights.js';
import { PolitePolicy, POLL_WHY_CODES, type NextPoll, type PollWhy } from './polite.js';

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
  /** Fetches a raw block by hash (sources that serve blocks). */
  fetchBlock?: (hash: Uint8Array) => Promise<Uint8Array>;
  /** false: never ask this source for headers (it serves blocks only). */
  headers?: boolean;
  /**
   * Ask the source on its own every pollMs: new headers after the last one delivered (or, before
   * any, its tip). 0: only when asked. For sources that cannot push (Esplora, DNS).
   */
  pollMs?: number;
  /**
   * Spread of each poll interval as a fraction of pollMs (0.5: anywhere from 0.75 to 1.25
   * pollMs), so the users of one public server do not all ask it in the same second. 0: exact.
   */
  pollJitter?: number;
  /** Largest random delay before polling after a block another link brought (polite.ts); default 150 s. */
  blockDelayMs?: number;
  /** Longest backoff between two polls of a failing source; default 30 min. */
  backoffMaxMs?: number;
  /** Random numbers in [0, 1) for the jitter, block delay and backoff (tests pass their own). */
  random?: () => number;
  timers?: Timers;
}

/** What a polling source link (Esplora, DNS) hands SourceLink as it was given. */
export type PollingOptions = Pick<SourceLinkOptions, 'pollMs' | 'pollJitter' | 'blockDelayMs' | 'random' | 'timers'>;

/** The PollingOptions out of a driver's own options (which hold more). */
export function pollingOptions(o: PollingOptions): PollingOptions {
  return { pollMs: o.pollMs, pollJitter: o.pollJitter, blockDelayMs: o.blockDelayMs, random: o.random, timers: o.timers };
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
  /** When the pending poll is due (timers.nowMs) and why; null: none pending. */
  private pollDue: { at: number; why: PollWhy } | null = null;
  /** When the next poll is, after answers, failures and new blocks (polite.ts). */
  private readonly policy: PolitePolicy;
  /** A gateway request that waits for the next poll (the source is backing off). */
  private deferredLocator: Uint8Array[] | null = null;
  /** A gateway request queued and not yet started: later ones join it (newest locator wins). */
  private queuedRequest: { locator: Uint8Array[]; done: Promise<void> } | null = null;
  /** Top of the gateway's chain as last pushed with setContext; the highest tip this source claimed. */
  private gatewayTop: number | null = null;
  private claimedTop = -1;

  constructor(opts: SourceLinkOptions) {
    this.pollMs = opts.pollMs ?? 0;
    this.timers = opts.timers ?? realTimers;
    const timers = this.timers;
    this.policy = new PolitePolicy({
      pollMs: this.pollMs,
      pollJitter: opts.pollJitter,
      blockDelayMs: opts.blockDelayMs,
      backoffMaxMs: opts.backoffMaxMs,
      nowMs: () => timers.nowMs(),
      random: opts.random ?? Math.random,
    });
    this.name = opts.name;
    this.capabilities = opts.capabilities;
    this.source = opts.source;
    this.ctx = opts.ctx;
    this.maxHeaders = opts.maxHeaders ?? MAX_HEADERS_PER_MESSAGE;
    this.maxScanBack = opts.maxScanBack ?? 20_160;
    this.guard = new SourceGuard(opts.name, opts.ctx, opts.failuresBeforeDegraded);
    this.known = new KnownHeights(opts.ctx.network);
    this.sendTxImpl = opts.sendTx;
    if (opts.sendTx) this.sendTx = (raw) => this.doSendTx(raw);
    this.headersOn = opts.headers !== false;
    const fetchBlock = opts.fetchBlock;
    if (fetchBlock) {
      this.fetchBlock = async (hash) => {
        this.guard.refuseIfMarked();
        try {
          const raw = await fetchBlock(hash);
          this.ctx.counters.inc('blocks.received');
          this.ctx.counters.inc('blocks.bytes', raw.length);
          // A served block is an answer: the source is up (a blocks-only source has no other).
          this.guard.succeeded();
          return raw;
        } catch (e) {
          this.ctx.counters.inc('blocks.failed');
          if (e instanceof SourceLieError) this.guard.mark(e);
          else this.guard.countFailure('block request', e);
          throw e;
        }
      };
    }
    this.source.onTip?.((tip) => {
      void this.guard.attempt('tip announcement', () => this.onPushedTip(tip)).then((ok) => this.settled(ok));
    });
  }

  sendTx?: (raw: Uint8Array) => Promise<void>;
  fetchBlock?: (hash: Uint8Array) => Promise<Uint8Array>;
  private readonly headersOn: boolean;

  /** Why the source was marked a liar, or null. */
  get markedReason(): string | null {
    return this.guard.markedReason;
  }

  async start(): Promise<void> {
    this.guard.stopped = false;
    this.guard.setState('starting');
    // `up` only after the source has answered: opening a connection that talks (Electrum) is
    // an answer; a source without one (HTTP, DNS) stays `starting` until its first request.
    if (this.source.open) {
      try {
        await this.source.open();
        this.guard.succeeded();
      } catch (e) {
        // Not fatal: the source is asked again on the next request.
        this.guard.countFailure('start', e);
      }
    }
    if (this.pollMs > 0) this.schedule(this.policy.interval());
  }

  /** Puts the next own poll `next.delayMs` from now (replacing a pending one) and shows it in the gauges. */
  private schedule(next: NextPoll): void {
    if (this.pollTimer !== null) this.timers.clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.pollDue = null;
    if (this.guard.stopped || this.guard.markedReason) {
      this.showSchedule();
      return;
    }
    this.pollTimer = this.timers.setTimeout(() => {
      this.pollTimer = null;
      this.pollDue = null;
      void this.guard.attempt('poll', () => this.poll()).then((ok) => this.settled(ok));
    }, next.delayMs);
    this.pollDue = { at: this.timers.nowMs() + next.delayMs, why: next.why };
    this.showSchedule();
  }

  /** Gauges for status: when the next poll is (ms since the epoch, 0: none), why, failures in a row. */
  private showSchedule(): void {
    const c = this.ctx.counters;
    c.set('poll.next_at_ms', this.pollDue ? Math.round(this.pollDue.at) : 0);
    c.set('poll.why', this.pollDue ? POLL_WHY_CODES[this.pollDue.why] : 0);
    c.set('poll.failures', this.policy.failures);
  }

  private async poll(): Promise<void> {
    this.ctx.counters.inc('polls');
    const deferred = this.deferredLocator;
    this.deferredLocator = null;
    if (deferred) {
      await this.fetchFollowing(deferred);
      return;
    }
    if (this.last) {
      await this.fetchFollowing([this.last.hash]);
      return;
    }
    const tip = await this.source.fetchTip();
    if (!tip) return;
    this.checkTip(tip);
    this.reportTip(await this.backTip(tip));
  }

  /**
   * After every question to the source (a poll, a gateway request, a pushed tip): an answer ends a
   * backoff and puts the next poll an interval away; a failure puts it at the next backoff. One
   * log line when a backoff begins and one when it ends, none per poll.
   */
  private settled(ok: boolean | null): void {
    if (ok === null) return; // stopped or marked: nothing more to schedule
    const wasFailing = this.policy.failures;
    const err = this.guard.lastError;
    const next = ok ? this.policy.succeeded() : this.policy.failed(err instanceof SourceUnavailableError ? err.retryAfterMs : undefined);
    if (ok && wasFailing > 0) {
      this.ctx.log.info('source answers again; backoff over', { link: this.name, failures: wasFailing });
    } else if (!ok && wasFailing === 0) {
      this.ctx.log.warn('source failed; backing off (full jitter, doubling up to the cap) until it answers', {
        link: this.name,
        nextPollInS: Math.round(next.delayMs / 1000),
      });
    }
    if (this.pollMs > 0 || (!ok && this.deferredLocator)) this.schedule(next);
    else this.showSchedule();
  }

  async stop(): Promise<void> {
    this.guard.stopped = true;
    if (this.pollTimer !== null) this.timers.clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.pollDue = null;
    this.deferredLocator = null;
    await this.source.close();
    await this.guard.idle();
    this.guard.setState('stopped');
  }

  /**
   * The gateway asks for the headers after `locator`. Goes out at once while the source answers
   * (joining a request already queued and not started, with the newer locator); while it backs
   * off, only with a prompt token (polite.ts), else it waits for the backoff poll. Never rejects.
   */
  requestHeaders(locator: Uint8Array[]): Promise<void> {
    if (!this.headersOn || this.guard.stopped) return Promise.resolve();
    if (this.queuedRequest) {
      this.queuedRequest.locator = locator;
      this.ctx.counters.inc('requests.joined');
      return this.queuedRequest.done;
    }
    if (!this.policy.admitPrompt()) {
      this.deferredLocator = locator;
      this.ctx.counters.inc('requests.deferred');
      this.ctx.log.debug('source is backing off; the request waits for the next poll', { link: this.name });
      if (this.pollTimer === null) this.schedule(this.policy.backoff());
      return Promise.resolve();
    }
    const entry: { locator: Uint8Array[]; done: Promise<void> } = { locator, done: Promise.resolve() };
    entry.done = this.guard
      .attempt('headers request', () => {
        if (this.queuedRequest === entry) this.queuedRequest = null;
        return this.fetchFollowing(entry.locator);
      })
      .then((ok) => {
        if (this.queuedRequest === entry) this.queuedRequest = null;
        this.settled(ok);
      });
    this.queuedRequest = entry;
    return entry.done;
  }

  /**
   * The gateway's recent best chain: its heights let a locator be resolved with one question
   * to the source (still checked against the source before use) instead of a search. A new top
   * this source has not shown us is a block another link brought: the next poll is drawn within
   * the block delay (polite.ts), so users who all heard of the block at once do not all ask now.
   */
  setContext(fromHeight: number, headers: Uint8Array[]): void {
    this.known.learnContext(fromHeight, headers);
    const top = fromHeight + headers.length - 1;
    if (!Number.isSafeInteger(top) || headers.length === 0) return;
    const before = this.gatewayTop;
    this.gatewayTop = Math.max(before ?? top, top);
    if (before === null || top <= before || top <= this.claimedTop || this.guard.stopped) return;
    const next = this.policy.newBlock(this.pollDue ? this.pollDue.at - this.timers.nowMs() : undefined);
    if (!next) return;
    this.ctx.counters.inc('polls.after-block');
    this.schedule(next);
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
        throw new SourceLieError('wrong-header-for-hash', `tip header hashes to ${hashToHex(h)}, not the claimed ${hashToHex(tip.hash)}`);
      }
      tip.hash = h;
    }
  }

  private reportTip(tip: SourceTip): void {
    this.claimedTop = Math.max(this.claimedTop, tip.height);
    const report: TipReport = { height: tip.height };
    if (tip.hash) report.hash = tip.hash;
    this.ctx.events.tip?.(report);
  }

  /** Finds the newest locator entry the source has in its best chain. */
  private async resolveLocator(locator: Uint8Array[], tip: SourceTip | null): Promise<{ height: number; hash: Uint8Array } | null> {
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
    for (let top = tip.height; top >= floor;) {
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
      const moved =
        again.height > tip.height || (again.height === tip.height && !!again.hash && !!tip.hash && !equalBytes(again.hash, tip.hash));
      if (!moved) {
        throw new SourceLieError(
          'tip-not-backed',
          `claims tip at height ${tip.height}${tip.hash ? ' ' + hashToHex(tip.hash) : ''} ` +
            `but its chain has ${there ? hashToHex(there) : 'no block'} there`,
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
    throw new SourceLieError('tip-not-backed', `claims tip ${again.height} but has no header after height ${lastHeight}`);
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
      `claims tip ${again.height}${again.hash ? ' ' + hashToHex(again.hash) : ''} ` +
        `but serves headers only up to ${height} ${hashToHex(hash)}`,
    );
  }

  /**
   * Headers fetched over several questions may straddle a reorganisation of the source. A break
   * in the run is a lie only if the source still stands by both sides of it (or contradicts a
   * checkpoint); otherwise the request failed and the next one starts afresh.
   */
  private async reorgOrLie(fork: { height: number; hash: Uint8Array }, start: number, headers: Uint8Array[], index: number): Promise<void> {
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
