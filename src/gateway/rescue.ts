// The rescue: when the node's active tip lags a validated header chain with more work (whichever
// link brought the headers, a receive-only radio included), fetch the blocks it lacks (fetch
// planner, blockfetch.ts), verify them, and push them to the node in chain order as unsolicited
// `block` messages; then check that the node's active tip moved to the better chain, and keep a
// record of it all for `altnet status` and the log.
//
// Bitcoin Core processes an unrequested block only if it has at least as much work as its active
// tip (validation.cpp AcceptBlock: "Don't process less-work chains"). A node merely held back
// (stale tip) takes every block that way. A node on an attacker's fork ignores the honest blocks
// below its tip's work; those are handed over with `submitblock` when `noderpc` is set, otherwise
// the rescue says so and why. altnet never advertises service bits, so the node never waits on
// altnet for a block (see node/peer.ts).
//
// How altnet knows the node's active tip without RPC: Core answers getheaders along its *active*
// chain from the first locator entry it has on it, and announces new active tips; so the last
// header of any headers message from the node with fewer than 2000 headers is its active tip.
// A probe getheaders whose locator starts at height h-1 of our best chain is answered with
// [block h, ...] exactly when the node's active chain contains block h.
//
// A failed rescue is tried again after a wait that doubles with every failure in a row, from 30 s
// to at most 30 min (retryDelayMs): a fork whose blocks no link serves, or a node that refuses
// them, is not hammered every 30 s forever. The failed record says when the next try is; a
// rescue that completes, or the node catching up on its own, starts the count afresh.
import type { Logger } from '../util/log.js';
import type { Counters } from '../util/counters.js';
import { equalBytes, hashToHex, hexToHash } from '../util/bytes.js';
import { headerHash } from '../chain/header.js';
import type { HeaderInfo } from '../chain/chain.js';
import type { BlockStore } from '../blocks/store.js';
import type { NodeRpc } from '../node/rpc.js';
import { MAX_HEADERS_PER_MESSAGE } from '../node/messages.js';
import { BlockFetcher, type BlockLink, type WantedBlock } from './blockfetch.js';

/** What the rescue needs of the header chain (src/chain HeaderChain fulfils it). */
export interface RescueChain {
  tip(): HeaderInfo;
  getByHash(hash: Uint8Array): HeaderInfo | undefined;
  getByHeight(height: number): HeaderInfo | undefined;
  readonly rootHeight: number;
}

/** What the rescue needs of a node connection (src/node NodePeer fulfils it). */
export interface RescueNodePeer {
  readonly id: string;
  readonly version?: { startHeight: number };
  /** Bytes written to the connection and not yet taken by the kernel. */
  readonly sendBacklog?: number;
  sendBlock(raw: Uint8Array): void;
  requestHeaders(locator: Uint8Array[]): void;
}

export type RescueState = 'fetching' | 'delivering' | 'confirming' | 'done' | 'failed';

export interface RescueRecord {
  id: number;
  state: RescueState;
  /** When altnet first saw the node behind a more-work validated chain. */
  startedAt: string;
  /** When the earliest watchdog anomaly still active at the start was raised, if any. */
  anomalySince?: string;
  /** The link whose headers made our best chain (the one the node lacked). */
  headerLink?: string;
  nodeTipAtStart?: { height: number; hash: string };
  forkHeight: number;
  target: { height: number; hash: string };
  /** Verified blocks by the link that served them. */
  blockSources: Record<string, number>;
  blocksDelivered: number;
  /** How blocks reached the node: unsolicited P2P `block` messages, or `submitblock` over RPC. */
  deliveredVia: { p2p: number; rpc: number };
  caughtUpAt?: string;
  /** From startedAt to caughtUpAt. */
  seconds?: number;
  finalTip?: { height: number; hash: string };
  /** Why a rescue failed, or what it is waiting for. */
  reason?: string;
  /** On the latest failed rescue: how many failed in a row, and when the next try starts. */
  failuresInARow?: number;
  nextTryAt?: string;
}

/** The wait after the first failed rescue; it doubles with every further failure in a row. */
export const RETRY_FIRST_MS = 30_000;
/** The longest wait between rescue tries. */
export const RETRY_MAX_MS = 30 * 60_000;

/** How long to wait before the next rescue after `failures` (>= 1) failed in a row. Pure. */
export function retryDelayMs(failures: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.max(0, Math.min(failures - 1, 20)));
}

export interface RescueDeps {
  chain: RescueChain;
  log: Logger;
  counters: Counters;
  store: BlockStore;
  links: () => BlockLink[];
  nodePeers: () => RescueNodePeer[];
  rpc?: NodeRpc;
  /** Start of the earliest active anomaly (ms since the epoch), for the record. */
  anomalySince?: () => number | undefined;
  now?: () => number;
  fetchTimeoutMs?: number;
  /** How long after the last block is delivered the node has to move its tip (default 60 s). */
  confirmTimeoutMs?: number;
  /** A rescue with no block fetched or delivered for this long fails (default 120 s). */
  stallMs?: number;
  /** Blocks fetched ahead of the last one delivered (default 64). */
  maxAhead?: number;
}

/** Bytes queued to the node above which delivery waits (Core reads a peer's messages in turn). */
const MAX_BACKLOG = 8_000_000;
/** Rescue records kept for status. */
const KEEP_RECORDS = 10;

export class Rescue {
  readonly fetcher: BlockFetcher;
  /** Best estimate of the node's active tip (hash, internal order). */
  private nodeActive: Uint8Array | undefined;
  private headerLink: string | undefined;
  private current: RescueRecord | undefined;
  private readonly history: RescueRecord[] = [];
  private nextId = 1;
  /** Height of our best chain through which the current rescue has delivered blocks. */
  private deliveredUpTo = -1;
  /** Final tip of the last completed rescue (the node confirmed it), as a floor for the next one. */
  private lastFinalTip: { height: number; hash: string } | undefined;
  private lastProgress = 0;
  private lastDelivery = 0;
  private lastProbe = 0;
  private rpcBusy = false;
  private delivering = false;
  /**
   * The window of wanted blocks from the last step and the best tip it was read under: while
   * the tip is the same, so is the best chain below it, and the next step only drops what was
   * delivered and reads the new heights (a step runs after every block; reading all 64 headers
   * again each time was a tenth of the gateway's CPU in the 144-block rescue bench).
   */
  private window: { tip: string; blocks: WantedBlock[] } | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** After a failed rescue, the next one waits until then (retryDelayMs). */
  private cooldownUntil = 0;
  /** Rescues failed in a row since the last one that completed (or the node caught up). */
  private failuresInARow = 0;
  /** The better tip for which "no link carries blocks" was last said. */
  private noLinksNoted: string | undefined;

  constructor(private readonly deps: RescueDeps) {
    this.fetcher = new BlockFetcher({
      log: deps.log,
      counters: deps.counters,
      links: deps.links,
      store: deps.store,
      now: deps.now,
      timeoutMs: deps.fetchTimeoutMs,
      onVerified: (block, _raw, source) => this.onVerified(block, source),
    });
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The current rescue (if any) and earlier ones, newest first. */
  records(): RescueRecord[] {
    return [...(this.current ? [this.current] : []), ...this.history].slice(0, KEEP_RECORDS);
  }

  /** A link's headers moved our best chain. */
  noteHeaderLink(link: string): void {
    this.headerLink = link;
    this.tick();
  }

  /** Any headers message from the node: see the file comment. Other local peers are not the node. */
  onNodeHeaders(peer: RescueNodePeer, raw: Uint8Array[]): void {
    if (raw.length === 0 || raw.length >= MAX_HEADERS_PER_MESSAGE) return;
    if (!this.deps.nodePeers().includes(peer)) return;
    const last = headerHash(raw[raw.length - 1]);
    if (this.deps.chain.getByHash(last)) this.setNodeActive(last);
  }

  onNodeReady(peer: RescueNodePeer): void {
    if (!this.nodeActive) this.probe(peer, Math.min(peer.version?.startHeight ?? 0, this.deps.chain.tip().height));
    this.tick();
  }

  /** Block bytes for the node's getdata: held blocks only. */
  getBlock(hash: Uint8Array): Uint8Array | undefined {
    return this.deps.store.get(hash) ?? this.fetcher.heldBlock(hash);
  }

  private setNodeActive(hash: Uint8Array): void {
    if (this.nodeActive && equalBytes(this.nodeActive, hash)) return;
    this.nodeActive = hash;
    this.tick();
  }

  /**
   * getheaders with a locator starting at our best chain's height h-1: answered with [block h,
   * ...] (its active chain onwards) when the node has block h active, otherwise with its active
   * chain after the fork, or nothing when it is behind on our chain.
   */
  private probe(peer: RescueNodePeer, h: number): void {
    const { chain } = this.deps;
    const locator: Uint8Array[] = [];
    let step = 1;
    for (let height = Math.max(chain.rootHeight, h - 1); ; height -= step) {
      if (height <= chain.rootHeight) {
        locator.push(chain.getByHeight(chain.rootHeight)!.hash);
        break;
      }
      locator.push(chain.getByHeight(height)!.hash);
      if (locator.length >= 10) step *= 2;
    }
    this.lastProbe = this.now();
    this.deps.counters.inc('rescue.probes');
    peer.requestHeaders(locator);
  }

  /** Walks from a header back to our best chain: the fork point. */
  private forkPoint(info: HeaderInfo): HeaderInfo | undefined {
    let cur: HeaderInfo | undefined = info;
    for (let i = 0; cur && !cur.inBestChain && i < 100_000; i++) {
      if (!cur.header) return undefined;
      cur = this.deps.chain.getByHash(cur.header.subarray(4, 36));
    }
    return cur?.inBestChain ? cur : undefined;
  }

  /** Periodic and event-driven step of the loop. Never throws. */
  tick(): void {
    try {
      this.step();
    } catch (err) {
      this.deps.counters.inc('rescue.errors');
      this.deps.log.error('rescue step failed', { error: (err as Error).message });
    }
  }

  private step(): void {
    const { chain, counters, log } = this.deps;
    this.fetcher.tick();
    const peers = this.deps.nodePeers();
    if (peers.length === 0) return;
    this.pollRpc();
    const now = this.now();
    const tip = chain.tip();
    const active = this.nodeActive && chain.getByHash(this.nodeActive);
    if (!active) {
      if (now - this.lastProbe > 5000) this.probe(peers[0], Math.min(peers[0].version?.startHeight ?? 0, tip.height));
      return;
    }
    const cur = this.current;
    if (active.chainWork >= tip.chainWork) {
      if (cur && active.inBestChain) this.finish(active);
      else if (!cur && this.failuresInARow > 0) this.resetRetries('the node caught up');
      return;
    }
    // The node is behind a validated chain with more work.
    if (!cur) {
      if (now < this.cooldownUntil) return;
      if (!this.deps.links().some((l) => l.capabilities.carries.includes('blocks'))) {
        // Nothing to fetch blocks with (a radio-only gateway): say so once per better tip.
        if (this.noLinksNoted !== hashToHex(tip.hash)) {
          this.noLinksNoted = hashToHex(tip.hash);
          counters.inc('rescue.no_block_links');
          log.info(
            'the node lacks blocks of a better validated chain, but no link carries blocks; add a p2p or esplora link to rescue it',
            { node: active.height, target: tip.height },
          );
        }
        return;
      }
      const fork = this.forkPoint(active);
      if (!fork) return;
      if (this.failuresInARow > 0) {
        counters.inc('rescue.retries');
        // The failed record's "next try" is now.
        delete this.history[0]?.nextTryAt;
      }
      const anomaly = this.deps.anomalySince?.();
      this.current = {
        id: this.nextId++,
        state: 'fetching',
        startedAt: new Date(now).toISOString(),
        ...(anomaly !== undefined ? { anomalySince: new Date(anomaly).toISOString() } : {}),
        headerLink: this.headerLink,
        nodeTipAtStart: { height: active.height, hash: hashToHex(active.hash) },
        forkHeight: fork.height,
        target: { height: tip.height, hash: hashToHex(tip.hash) },
        blockSources: {},
        blocksDelivered: 0,
        deliveredVia: { p2p: 0, rpc: 0 },
      };
      // Blocks an earlier rescue already got the node onto (its confirmed final tip, still on our
      // best chain) are not pushed again, even when the node's tip we know lags behind (a late
      // announcement of an intermediate tip): one catch-up split into header batches pushes each
      // block once.
      const prior = this.lastFinalTip;
      const priorOnChain = prior && prior.height > fork.height && prior.height < tip.height && chain.getByHeight(prior.height);
      this.deliveredUpTo = priorOnChain && hashToHex(priorOnChain.hash) === prior.hash ? prior.height : fork.height;
      this.lastProgress = now;
      counters.inc('rescue.started');
      log.info(this.failuresInARow > 0 ? 'rescue retried' : 'rescue started: the node lacks blocks of a better validated chain', {
        ...(this.failuresInARow > 0 ? { failedBefore: this.failuresInARow } : {}),
        node: `${active.height} ${hashToHex(active.hash).slice(0, 16)}`,
        fork: fork.height,
        target: tip.height,
        headersFrom: this.headerLink,
        blockLinks:
          this.fetcher
            .usableLinks()
            .map((l) => l.name)
            .join(',') || 'none',
      });
      return this.step();
    }
    if (cur.state === 'done' || cur.state === 'failed') return;
    cur.target = { height: tip.height, hash: hashToHex(tip.hash) };
    // The node moved up our chain on its own (another peer, an earlier block): skip what it has.
    if (active.inBestChain && active.height > this.deliveredUpTo) this.deliveredUpTo = active.height;
    const ahead = this.deps.maxAhead ?? 64;
    const tipHex = hashToHex(tip.hash);
    const kept = this.window?.tip === tipHex ? this.window.blocks.filter((b) => b.height > this.deliveredUpTo) : [];
    // Only a window that still starts right after the last delivered block (a retried rescue may start lower).
    const wanted = kept[0]?.height === this.deliveredUpTo + 1 ? kept : [];
    const last = Math.min(tip.height, this.deliveredUpTo + ahead);
    for (let h = Math.max(this.deliveredUpTo, wanted.at(-1)?.height ?? 0) + 1; h <= last; h++) {
      const e = chain.getByHeight(h);
      if (!e?.header) break;
      wanted.push({ height: h, hash: e.hash, header: e.header });
    }
    this.window = { tip: tipHex, blocks: wanted };
    this.fetcher.setWanted(wanted, this.headerLink);
    void this.deliver(active);
    if (this.deliveredUpTo >= tip.height) {
      if (cur.state !== 'confirming') {
        cur.state = 'confirming';
        log.info('rescue: every block delivered; waiting for the node to move its tip', {
          height: tip.height,
          via: `p2p ${cur.deliveredVia.p2p}, rpc ${cur.deliveredVia.rpc}`,
        });
      }
      if (now - this.lastProbe >= 1000) this.probe(peers[0], tip.height);
      if (now - this.lastDelivery > (this.deps.confirmTimeoutMs ?? 60_000)) {
        this.fail(
          `the node did not move to the better chain within ${Math.round((this.deps.confirmTimeoutMs ?? 60_000) / 1000)} s of receiving every block (its debug.log says why)`,
        );
      }
    } else if (cur.state === 'fetching' && this.fetcher.usableLinks().length === 0) {
      cur.reason = 'no block-capable link is up (p2p or esplora)';
      if (now - this.lastProgress > (this.deps.stallMs ?? 120_000)) this.fail(cur.reason);
    } else if (now - this.lastProgress > (this.deps.stallMs ?? 120_000)) {
      this.fail(
        cur.reason ??
          `no block arrived for ${Math.round((this.deps.stallMs ?? 120_000) / 1000)} s: ${this.fetcher.failureSummary() ?? 'sources did not answer'}`,
      );
    }
  }

  private onVerified(block: WantedBlock, source: string): void {
    const cur = this.current;
    if (cur) {
      cur.blockSources[source] = (cur.blockSources[source] ?? 0) + 1;
      cur.reason = undefined;
    }
    this.lastProgress = this.now();
    this.deps.log.debug('verified block', { height: block.height, from: source });
    this.tick();
  }

  /** Pushes the next stored blocks in chain order. One delivery loop at a time. */
  private async deliver(active: HeaderInfo): Promise<void> {
    if (this.delivering) return;
    this.delivering = true;
    const { chain, counters, log, rpc } = this.deps;
    try {
      for (;;) {
        const cur = this.current;
        if (!cur || cur.state === 'done' || cur.state === 'failed') return;
        const next = chain.getByHeight(this.deliveredUpTo + 1);
        if (!next) return;
        const raw = this.getBlock(next.hash);
        if (!raw) return;
        const peers = this.deps.nodePeers();
        if (peers.length === 0) return;
        if (peers.some((p) => (p.sendBacklog ?? 0) > MAX_BACKLOG)) {
          setTimeout(() => this.tick(), 50).unref();
          return;
        }
        if (next.chainWork < active.chainWork) {
          // Core ignores this block unrequested (less work than its active tip).
          if (!rpc) {
            const why = `the node's active tip (height ${active.height}) is on another branch with more work than block ${next.height}; Bitcoin Core ignores unrequested blocks with less work than its tip, so set noderpc= to let altnet submit them`;
            if (cur.reason !== why) log.warn('rescue blocked', { reason: why });
            cur.reason = why;
            return;
          }
          const verdict = await rpc.submitBlock(raw).catch((e: Error) => `rpc error: ${e.message}`);
          if (verdict !== null && verdict !== 'duplicate' && verdict !== 'inconclusive') {
            counters.inc('rescue.rpc_rejected');
            this.fail(`the node refused block ${next.height} over RPC: ${verdict}`);
            return;
          }
          cur.deliveredVia.rpc++;
          counters.inc('rescue.blocks_rpc');
        } else {
          for (const p of peers) p.sendBlock(raw);
          cur.deliveredVia.p2p++;
          counters.inc('rescue.blocks_p2p');
        }
        this.deliveredUpTo = next.height;
        this.fetcher.release(next.hash);
        cur.blocksDelivered++;
        cur.state = 'delivering';
        this.lastDelivery = this.lastProgress = this.now();
      }
    } finally {
      this.delivering = false;
    }
  }

  private pollRpc(): void {
    const rpc = this.deps.rpc;
    if (!rpc || this.rpcBusy) return;
    this.rpcBusy = true;
    rpc
      .bestBlockHash()
      .then((hex) => {
        const hash = hexToHash(hex);
        if (this.deps.chain.getByHash(hash)) this.setNodeActive(hash);
      })
      .catch((e: Error) => {
        this.deps.counters.inc('rescue.rpc_errors');
        this.deps.log.debug('node RPC failed', { error: e.message });
      })
      .finally(() => {
        this.rpcBusy = false;
      });
  }

  private finish(active: HeaderInfo): void {
    const cur = this.current!;
    const now = this.now();
    cur.state = 'done';
    cur.caughtUpAt = new Date(now).toISOString();
    cur.seconds = Math.round((now - Date.parse(cur.startedAt)) / 100) / 10;
    cur.finalTip = { height: active.height, hash: hashToHex(active.hash) };
    this.lastFinalTip = cur.finalTip;
    cur.reason = undefined;
    this.resetRetries();
    this.deps.counters.inc('rescue.completed');
    this.deps.log.info('rescue complete: the node is on the better chain', {
      tip: `${active.height} ${hashToHex(active.hash).slice(0, 16)}`,
      headersFrom: cur.headerLink,
      blocksFrom:
        Object.entries(cur.blockSources)
          .map(([k, v]) => `${k}:${v}`)
          .join(',') || 'none needed',
      seconds: cur.seconds,
      via: `p2p ${cur.deliveredVia.p2p}, rpc ${cur.deliveredVia.rpc}`,
    });
    this.archive();
  }

  private fail(reason: string): void {
    const cur = this.current!;
    cur.state = 'failed';
    cur.reason = reason;
    this.failuresInARow++;
    const wait = retryDelayMs(this.failuresInARow);
    this.cooldownUntil = this.now() + wait;
    cur.failuresInARow = this.failuresInARow;
    cur.nextTryAt = new Date(this.cooldownUntil).toISOString();
    this.deps.counters.inc('rescue.failed');
    this.deps.counters.set('rescue.failures_in_a_row', this.failuresInARow);
    this.deps.log.warn('rescue failed', {
      reason,
      target: cur.target.height,
      delivered: cur.blocksDelivered,
      failuresInARow: this.failuresInARow,
      nextTryInSeconds: Math.round(wait / 1000),
    });
    this.archive();
  }

  /** A rescue completed or is no longer needed: the next failure waits RETRY_FIRST_MS again. */
  private resetRetries(why?: string): void {
    if (this.failuresInARow === 0) return;
    if (why) this.deps.log.info('no rescue needed any more; retries reset', { why, failedBefore: this.failuresInARow });
    this.failuresInARow = 0;
    this.cooldownUntil = 0;
    delete this.history[0]?.nextTryAt;
    this.deps.counters.set('rescue.failures_in_a_row', 0);
  }

  private archive(): void {
    if (!this.current) return;
    this.history.unshift(this.current);
    this.history.length = Math.min(this.history.length, KEEP_RECORDS);
    this.current = undefined;
    this.fetcher.setWanted([]);
  }
}
