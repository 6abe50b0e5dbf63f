// The fetch planner: fetches the blocks the rescue wants, in chain order, from the links that
// carry blocks. Several blocks are in flight at once, spread over sources (a per-link cap), each
// with a deadline; a failed or timed-out block is asked of another source, and a source other
// than the one that brought the headers is preferred, so one liar cannot both feed the headers
// and withhold (or forge) the blocks. Every block is verified here, in the main process, against
// the validated header at its height before it is stored; a source that serves a bad block is
// marked (no more blocks asked of it until restart) and the block is fetched elsewhere.
import type { Logger } from '../util/log.js';
import type { Counters } from '../util/counters.js';
import { hashToHex, toHex } from '../util/bytes.js';
import { AltnetError } from '../util/errors.js';
import type { LinkCapabilities } from '../links/link.js';
import { canReceive } from '../links/link.js';
import { verifyBlock, type VerifiedBlock } from '../blocks/verify.js';
import type { BlockStore } from '../blocks/store.js';

/** A link as the planner sees it (the supervisor's proxy of a driver). */
export interface BlockLink {
  readonly name: string;
  readonly capabilities: LinkCapabilities;
  readonly state?: string;
  /** Sends the request; false when the link cannot take it now. */
  requestBlock?(hash: Uint8Array): boolean;
}

/** A block the rescue wants: the validated header at its height. */
export interface WantedBlock {
  height: number;
  hash: Uint8Array;
  header: Uint8Array;
}

export interface BlockFetcherDeps {
  log: Logger;
  counters: Counters;
  links: () => BlockLink[];
  store: BlockStore;
  /** A verified block was stored (or could only be kept in memory, `raw` given either way). */
  onVerified(block: WantedBlock, raw: Uint8Array, source: string, facts: VerifiedBlock): void;
  now?: () => number;
  /** Per-request deadline (default 30 s). */
  timeoutMs?: number;
  /** Blocks in flight in total (default 32) and per link (default 16, Core's own per-peer cap). */
  maxInFlight?: number;
  perLinkInFlight?: number;
}

interface InFlight {
  block: WantedBlock;
  link: string;
  since: number;
}

/** Why each source failed a block, so the next attempt goes elsewhere. */
interface Attempts {
  tried: Set<string>;
  last: string;
  /** After every source failed it: not asked again before this time. */
  retryAt: number;
}

/** Supervisor states in which a link's driver cannot take a request. */
const NOT_RUNNING = ['stopped', 'restarting', 'quarantined'];

/** Pause before asking again for a block that every source failed. */
const RETRY_ALL_MS = 5000;

export class BlockFetcher {
  private wanted: WantedBlock[] = [];
  /** toHex of each wanted block's hash, same order: schedule() runs after every block and reuses them. */
  private keys: string[] = [];
  private avoid: string | undefined;
  private readonly inflight = new Map<string, InFlight>();
  private readonly attempts = new Map<string, Attempts>();
  /** Links that served an invalid block: name -> reason. */
  readonly marked = new Map<string, string>();
  /** Blocks verified but not written to the store (write failure): kept until delivered. */
  private readonly held = new Map<string, Uint8Array>();

  constructor(private readonly deps: BlockFetcherDeps) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /**
   * The blocks wanted now, in chain order (replaces the previous list). `avoid` is the link the
   * headers came from: used for blocks only when no other source can serve.
   */
  setWanted(blocks: WantedBlock[], avoid?: string): void {
    this.wanted = blocks;
    this.keys = blocks.map((b) => toHex(b.hash));
    this.avoid = avoid;
    const keep = new Set(this.keys);
    for (const k of this.attempts.keys()) if (!keep.has(k)) this.attempts.delete(k);
    this.schedule();
  }

  /** A verified block kept in memory because the store could not write it. */
  heldBlock(hash: Uint8Array): Uint8Array | undefined {
    return this.held.get(toHex(hash));
  }

  release(hash: Uint8Array): void {
    this.held.delete(toHex(hash));
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  /** Reasons the wanted blocks could not be fetched so far (for the rescue record). */
  failureSummary(): string | undefined {
    const last = [...this.attempts.values()].map((a) => a.last).filter(Boolean);
    return last.length ? last[last.length - 1] : undefined;
  }

  /**
   * Links that can be asked for blocks now: their driver runs (a source that has not answered
   * yet, or whose last request failed, is still asked: a block request is how a blocks-only
   * source shows it is up), it carries blocks, and it never served a bad one.
   */
  usableLinks(): BlockLink[] {
    return this.deps
      .links()
      .filter(
        (l) =>
          l.requestBlock &&
          l.capabilities.carries.includes('blocks') &&
          canReceive(l.capabilities) &&
          !NOT_RUNNING.includes(l.state ?? '') &&
          !this.marked.has(l.name),
      );
  }

  /** Checks deadlines and sends what can be sent. Call periodically. */
  tick(): void {
    const now = this.now();
    const timeout = this.deps.timeoutMs ?? 30_000;
    for (const [key, f] of this.inflight) {
      if (now - f.since < timeout) continue;
      this.inflight.delete(key);
      this.deps.counters.inc(`link.${f.link}.block_timeouts`);
      this.failed(f.block, f.link, `no answer from ${f.link} within ${Math.round(timeout / 1000)} s`);
    }
    this.schedule();
  }

  /** A link answered with a block. Returns false when it failed verification (the link is blamed). */
  onBlock(linkName: string, hash: Uint8Array, raw: Uint8Array): boolean {
    const { counters, log } = this.deps;
    const key = toHex(hash);
    const f = this.inflight.get(key);
    const block = f?.block ?? this.wanted[this.keys.indexOf(key)];
    if (f && f.link === linkName) this.inflight.delete(key);
    if (!block) {
      counters.inc(`link.${linkName}.blocks_unwanted`);
      return true;
    }
    let facts: VerifiedBlock;
    try {
      facts = verifyBlock(raw, block.header);
    } catch (err) {
      const code = err instanceof AltnetError ? err.code : 'block-invalid';
      const reason = `served an invalid block at height ${block.height} (${code}): ${(err as Error).message}`;
      counters.inc(`link.${linkName}.invalid_blocks`);
      counters.inc(`link.${linkName}.invalid.${code}`);
      counters.inc('blocks.invalid');
      this.marked.set(linkName, reason);
      log.warn('link served an invalid block; marked (no more blocks from it until restart), fetching it elsewhere', {
        link: linkName,
        height: block.height,
        hash: hashToHex(hash),
        code,
        reason: (err as Error).message,
      });
      if (f && f.link !== linkName) this.inflight.delete(key);
      this.failed(block, linkName, `${linkName} ${reason}`);
      this.schedule();
      return false;
    }
    counters.inc('blocks.verified');
    counters.inc('blocks.verified_bytes', raw.length);
    counters.inc(`link.${linkName}.blocks_verified`);
    if (this.inflight.get(key)?.link === linkName) this.inflight.delete(key);
    this.attempts.delete(key);
    if (!this.deps.store.has(hash) && !this.deps.store.put(hash, block.height, raw)) this.held.set(key, raw);
    this.deps.onVerified(block, raw, linkName, facts);
    this.schedule();
    return true;
  }

  /** A link could not serve a block it was asked for. */
  onMissing(linkName: string, hash: Uint8Array, reason: string): void {
    const key = toHex(hash);
    const f = this.inflight.get(key);
    if (!f || f.link !== linkName) return;
    this.inflight.delete(key);
    this.deps.counters.inc(`link.${linkName}.blocks_missing`);
    this.failed(f.block, linkName, `${linkName}: ${reason}`);
    this.schedule();
  }

  private failed(block: WantedBlock, link: string, reason: string): void {
    const key = toHex(block.hash);
    const a = this.attempts.get(key) ?? { tried: new Set<string>(), last: '', retryAt: 0 };
    a.tried.add(link);
    a.last = reason;
    this.attempts.set(key, a);
    this.deps.log.info('block fetch failed; will ask another source', { height: block.height, link, reason });
  }

  private schedule(): void {
    const max = this.deps.maxInFlight ?? 32;
    const perLink = this.deps.perLinkInFlight ?? 16;
    const links = this.usableLinks();
    if (links.length === 0) return;
    const load = new Map<string, number>();
    for (const f of this.inflight.values()) load.set(f.link, (load.get(f.link) ?? 0) + 1);
    for (let i = 0; i < this.wanted.length; i++) {
      if (this.inflight.size >= max) return;
      // Every link at its limit: nothing can be asked (checked per block, as the loop adds load).
      if (links.every((l) => (load.get(l.name) ?? 0) >= perLink)) return;
      const block = this.wanted[i];
      const key = this.keys[i];
      if (this.inflight.has(key) || this.held.has(key) || this.deps.store.has(block.hash)) continue;
      const a = this.attempts.get(key);
      let candidates = links.filter((l) => (load.get(l.name) ?? 0) < perLink);
      if (a) {
        const fresh = candidates.filter((l) => !a.tried.has(l.name));
        if (fresh.length === 0 && links.every((l) => a.tried.has(l.name))) {
          // Every source failed it once: start over after a pause (a failure may have been passing).
          if (a.retryAt === 0) a.retryAt = this.now() + RETRY_ALL_MS;
          if (this.now() < a.retryAt) continue;
          a.tried.clear();
          a.retryAt = 0;
        } else candidates = fresh;
      }
      if (candidates.length === 0) continue;
      candidates.sort(
        (x, y) => Number(x.name === this.avoid) - Number(y.name === this.avoid) || (load.get(x.name) ?? 0) - (load.get(y.name) ?? 0),
      );
      const link = candidates[0];
      if (!link.requestBlock!(block.hash)) continue;
      this.inflight.set(key, { block, link: link.name, since: this.now() });
      load.set(link.name, (load.get(link.name) ?? 0) + 1);
      this.deps.counters.inc(`link.${link.name}.blocks_requested`);
    }
  }
}
