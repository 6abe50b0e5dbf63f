// Decides where headers and transactions go:
//  - headers from links are re-validated by the chain; every node-port connection whose best
//    header has less work than our best chain is sent the headers it lacks, judged by what that
//    connection itself said (peer-chains.ts): one local process cannot speak for another;
//  - headers the node has go out on transmit links (beacon mode);
//  - an anomaly makes every link that can ask for headers ask at once (anycast);
//  - an internet link that extended our best chain, or claims a tip above it, is asked again at
//    once from the new tip, so every long sync finishes by itself (no anomaly needed);
//  - a transaction from a link goes to the node; once the node holds it, a TXACK goes back on
//    that link (tx-acks.ts);
//  - a link never gets what its capabilities exclude, and receive-only mode never transmits.
import type { Logger } from '../util/log.js';
import type { Counters } from '../util/counters.js';
import { fromHex, hashToHex } from '../util/bytes.js';
import { checkTransaction } from './outbox-check.js';
import { headerHash } from '../chain/header.js';
import type { HeaderView, NodePeer, NodePeerEvents } from '../node/peer.js';
import type { InvItem } from '../node/messages.js';
import { InvType, MAX_HEADERS_PER_MESSAGE } from '../node/messages.js';
import type { Cargo, HeaderBatch, HeadersWanted, LinkCapabilities, TipReport } from '../links/link.js';
import { canReceive, canTransmit, DEFAULT_BEACON_DEPTH } from '../links/link.js';
import { PeerChains, type PeerChain } from './peer-chains.js';
import { TxAckTracker } from './tx-acks.js';
import { HOUR_MS } from '../links/radio/regions.js';

export interface ChainTip {
  height: number;
  hash: Uint8Array;
  chainWork: bigint;
}

export interface AddHeadersOutcome {
  accepted: number;
  rejected?: { index: number; code: string; message: string };
  tipChanged: boolean;
}

/** What the router needs of the header chain (src/chain HeaderChain fulfils it). */
export interface RouterChain extends HeaderView {
  addHeaders(raw: Uint8Array[]): AddHeadersOutcome;
  tip(): ChainTip;
  /** Height and cumulative work of a known header (any branch), undefined if unknown. */
  getByHash(hash: Uint8Array): { height: number; chainWork: bigint } | undefined;
  /** The best chain's header at a height (null for a checkpoint root, whose header is unknown). */
  getByHeight(height: number): { hash: Uint8Array; header: Uint8Array | null } | undefined;
  /** Where the chain starts: genesis (0) or a checkpoint. */
  readonly rootHeight: number;
  /** Writes what a failed store left in memory; throws while the store still fails. */
  retryStore?(): number;
}

/** A link as the router sees it: the supervisor's proxy of a driver in its own process. */
export interface RouterLink {
  readonly name: string;
  readonly capabilities: LinkCapabilities;
  /** The supervisor's state; a link that is not up now is skipped by sendTxOnLinks. */
  readonly state?: string;
  requestHeaders?(locator: Uint8Array[]): void;
  sendHeaders?(batch: HeaderBatch): void;
  sendTx?(raw: Uint8Array): void;
  sendTxAck?(txids: Uint8Array[]): void;
  setContext?(fromHeight: number, headers: Uint8Array[]): void;
}

/** Headers per beacon batch when a link does not say (beaconHeaders); batches start at multiples of their size. */
export const BEACON_BATCH = 16;
/** Most headers in one beacon batch, whatever a link asks for. */
const MAX_BEACON_BATCH = 144;
/** Recent best-chain headers given to radio drivers to decode compact frames against. */
export const CONTEXT_DEPTH = 64;
/** Least time between two asks of one link prompted by its tip claims, ms. */
const TIP_FOLLOW_MS = 5000;
/** A link asked to continue a sync that sends nothing this long is asked again, ms... */
const SYNC_STALL_MS = 10_000;
/** ...this many times at most (a source with exactly a full batch and no more costs 3 asks). */
const SYNC_RETRIES = 3;
/** Most headers sent in answer to one radio request. */
const MAX_RADIO_ANSWER = 64;
/**
 * A duplex radio peer that announces a tip above ours is asked for the range we lack at most
 * this often (asking costs airtime on both sides; an answer of 64 headers takes ~20 s of AFSK 1200).
 */
const RADIO_TIP_FOLLOW_MS = 60_000;
/**
 * A radio request that brought no headers is asked again (a shared half-duplex channel loses
 * frames to collisions, and a peer that was not on the air yet never heard it: issue 17, two
 * Dire Wolf gateways whose link-up requests collided), up to this many times, waiting
 * radioAnswerWaitMs, doubled on each try. A peer with nothing more answers nothing, so the
 * retries are bounded; a tip claim or the link coming up asks anew.
 */
const RADIO_RETRIES = 3;
/** Coded bytes of a full radio answer (64 headers at ~39 B in the stream codec, plus framing), for its airtime estimate. */
const RADIO_ANSWER_BYTES = MAX_RADIO_ANSWER * 40 + 64;
/** Least wait for a radio answer, ms. */
const MIN_RADIO_ANSWER_WAIT_MS = 5000;

/**
 * A beacon carousel batch: the headers after `parent` up to `end`, fixed once made (so its
 * message id and fountain symbols stay the same from pass to pass and a receiver adds the
 * passes up), the hash of its last header (a reorg that replaced it drops it), and how often it
 * went: `passes` counts the tip announcements that already carried its headers as one,
 * `batchPasses` only the batch itself.
 */
interface CarouselBatch {
  parent: number;
  end: number;
  endHash: string;
  passes: number;
  /** Every header in it went alone as a tip when it came. */
  tipped: boolean;
}

/**
 * A beacon's carousel on one link: its batches oldest first (contiguous: each starts where the
 * one below ends), and the heights it announced alone as tips (their batch counts that as a pass).
 */
interface Carousel {
  batches: CarouselBatch[];
  tipped: Set<number>;
  /** Where the next round goes on: the first batch whose parent is at or above it. */
  next: number;
}

/**
 * Batch passes the oldest carousel batch has had before the carousel drops it once the chain
 * has moved beaconDepth past it: a receiver losing a share of the frames needs more than one
 * (each later pass sends fresh symbols that add up), and a batch dropped too early strands every
 * receiver still below it (issue 17: SF12 1%, 20% loss, the oldest batch went once per ~11-hour
 * cycle and the floor moved past a receiver that lost one of its frames).
 */
export const CAROUSEL_FLOOR_PASSES = 3;
/**
 * However few passes it had, a carousel batch leaves once it lies this many beaconDepths below
 * the tip. Where the airtime cannot give every batch its passes (SF12 1%, a block every 10 min:
 * the tips take a third of it) the carousel deepens up to this; at 2 it dropped the batch right
 * above a lossy receiver before its third pass and stranded it (issue 17, catch-up harness).
 */
export const CAROUSEL_MAX_DEPTHS = 5;

export type GatewayMode = 'gateway' | 'receive-only' | 'beacon';

export interface RouterDeps {
  chain: RouterChain;
  log: Logger;
  counters: Counters;
  mode?: GatewayMode;
  /** The node connections that finished their handshake. */
  nodePeers: () => NodePeer[];
  /** Told about the node's tip and links' claims (the watchdog). */
  observer?: {
    nodeTip(tip: ChainTip): void;
    linkTip(link: string, report: TipReport): void;
  };
  /** Told when the node announces a transaction (emergency-send bookkeeping). */
  onNodeTxInv?(hashes: Uint8Array[]): void;
  /** How far below the tip the beacon carousel reaches, in blocks (default 144, a day). */
  beaconDepth?: number;
  /** While the header store fails, how often tick() retries it, ms (default 5000). */
  storeRetryMs?: number;
  /** ms since the epoch (tests). */
  now?: () => number;
  /** Uniform in [0, 1): the jitter of radio request retries and TXACK repeats (tests; default Math.random). */
  random?: () => number;
  /** Runs `fn` after `ms`: TXACKs go at their drawn times, not on the next tick (TxAckDeps.schedule). */
  schedule?(ms: number, fn: () => void): void;
}

export interface LinkHeadersResult extends AddHeadersOutcome {
  sentToNode: number;
}

export class Router {
  private readonly links = new Map<string, RouterLink>();
  /** What each node-port connection has, by its own word (or ours, for what we sent it). */
  private readonly peerChains = new PeerChains();
  /** When each link was last asked to continue a sync (ms), to pace asks made on tip claims. */
  private readonly followedAt = new Map<string, number>();
  /** Links asked to continue a sync that have not answered with headers yet: when, how often. */
  private readonly awaiting = new Map<string, { at: number; tries: number }>();
  /** Radio links asked for headers that have not answered yet: when, how often, how long to wait. */
  private readonly radioAwaiting = new Map<string, { at: number; tries: number; waitMs: number }>();
  /**
   * The tip each duplex radio peer last told us of (hex hash): a tip frame it sent, or the newest
   * entry of a header request it sent (its own tip). A peer whose tip is ours has nothing for us,
   * so we do not ask it (asking is transmitting; issue 17: in-step gateways sent up to 3 header
   * requests after each link-up that nobody could answer). Trusted for RADIO_TIP_FOLLOW_MS: a
   * duplex gateway does not announce its new tips on the air, so older news may be stale.
   */
  private readonly radioPeerTips = new Map<string, { hash: string; at: number }>();
  private lastStoreRetry = 0;
  /** The header store failed (full disk): what came meanwhile is to be asked for again. */
  private storeFailing = false;
  /**
   * Beacon carousel per transmitting link: the floor its current cycle started from (see
   * beaconNext), and per aligned slot (a batch's height rounded down to its size) the hash of its
   * last header when it was sent and how many passes it had (a batch that grew is a new batch).
   */
  private readonly carousels = new Map<string, Carousel>();
  /** Links that asked for a beacon batch when there was none to send: fed when the tip moves. */
  private readonly beaconHungry = new Map<string, number>();
  readonly nodeEvents: NodePeerEvents;
  /** Transactions from links the node may accept: acknowledged on their link when it does. */
  readonly txAcks: TxAckTracker;

  constructor(private readonly deps: RouterDeps) {
    this.txAcks = new TxAckTracker({
      log: deps.log,
      counters: deps.counters,
      now: deps.now,
      random: deps.random,
      schedule: deps.schedule,
      // The router does not see a link's airtime rule, only its share: the EU868 hour, as framed.ts
      // assumes when a transport names no rule.
      ackWindowMs: (name) => ((this.links.get(name)?.capabilities.dutyCycle ?? 1) < 1 ? HOUR_MS : undefined),
      sendAck: (name, txids) => {
        const link = this.links.get(name);
        // On a radio, acknowledging is transmitting: a receive-only gateway only listens there.
        if (!link?.sendTxAck || !canTransmit(link.capabilities) || this.mode === 'receive-only') return false;
        link.sendTxAck(txids);
        return true;
      },
      probe: (txids) => {
        const peers = this.deps.nodePeers();
        for (const p of peers) p.requestTx(txids);
        return peers.length;
      },
    });
    this.nodeEvents = {
      ready: (peer) => this.onNodeReady(peer),
      headers: (peer, raw) => this.onNodeHeaders(peer, raw),
      getheaders: (peer, locator) => this.onNodeLocator(peer, locator),
      inv: (peer, items) => this.onNodeInv(peer, items),
      tx: (_peer, raw) => this.onNodeTx(raw),
      closed: (peer) => this.peerChains.forget(peer),
    };
  }

  get mode(): GatewayMode {
    return this.deps.mode ?? 'gateway';
  }

  addLink(link: RouterLink): void {
    this.links.set(link.name, link);
  }

  /** Gives one link (or all) the recent best chain, so it can decode compact header frames. */
  pushContext(only?: RouterLink): void {
    const { chain } = this.deps;
    const tip = chain.tip();
    const from = Math.max(chain.rootHeight, tip.height - CONTEXT_DEPTH + 1);
    const headers: Uint8Array[] = [];
    for (let h = from; h <= tip.height; h++) {
      const raw = chain.getByHeight(h)?.header;
      if (raw) headers.push(raw);
    }
    const first = tip.height - headers.length + 1;
    for (const link of only ? [only] : this.links.values()) {
      if (link.setContext && canReceive(link.capabilities) && carries(link.capabilities, 'headers')) link.setContext(first, headers);
    }
  }

  /** The best-chain batch after `parentHeight` (at most `max` headers), or undefined. */
  private batchAfter(parentHeight: number, max: number): HeaderBatch | undefined {
    const { chain } = this.deps;
    const parent = chain.getByHeight(parentHeight)?.header;
    if (!parent) return undefined;
    const headers: Uint8Array[] = [];
    const top = Math.min(chain.tip().height, parentHeight + max);
    for (let h = parentHeight + 1; h <= top; h++) headers.push(chain.getByHeight(h)!.header!);
    return headers.length ? { parentHeight, parent, headers } : undefined;
  }

  /** A radio peer asked for headers: answer from the newest locator entry on our best chain. */
  onLinkHeadersWanted(linkName: string, req: HeadersWanted): void {
    const link = this.links.get(linkName);
    if (!link?.sendHeaders || this.mode === 'receive-only' || !canTransmit(link.capabilities)) return;
    const { chain } = this.deps;
    let from: number | undefined;
    for (const e of req.locator) {
      const hash = chain.getByHeight(e.height)?.hash;
      if (hash && e.prefix.every((b, i) => hash[i] === b)) {
        from = e.height;
        break;
      }
    }
    if (from === undefined) from = chain.rootHeight;
    // The newest entry is the requester's tip: when it is on our chain, that is what it has.
    const newest = req.locator[0];
    if (newest && from === newest.height)
      this.radioPeerTips.set(linkName, { hash: hashToHex(chain.getByHeight(from)!.hash), at: this.now() });
    else this.radioPeerTips.delete(linkName);
    // In step with us: our own unanswered request to it had nothing to bring.
    if (this.radioPeerInStep(linkName)) this.radioAwaiting.delete(linkName);
    const batch = this.batchAfter(from, Math.min(req.max || MAX_RADIO_ANSWER, MAX_RADIO_ANSWER));
    this.deps.counters.inc(`link.${linkName}.header_requests`);
    if (batch) link.sendHeaders(batch);
  }

  removeLink(name: string): void {
    this.links.delete(name);
    this.carousels.delete(name);
    this.beaconHungry.delete(name);
    this.followedAt.delete(name);
    this.awaiting.delete(name);
    this.radioAwaiting.delete(name);
    this.radioPeerTips.delete(name);
  }

  /** Whether a duplex radio peer told us lately of a tip that is our tip (then it has nothing for us). */
  private radioPeerInStep(linkName: string): boolean {
    const t = this.radioPeerTips.get(linkName);
    return t !== undefined && this.now() - t.at < RADIO_TIP_FOLLOW_MS && t.hash === hashToHex(this.deps.chain.tip().hash);
  }

  /**
   * The node's best header as far as we know, with its work: the identified node's (noderpc);
   * without one, the least-work tip among the connections, so a local process announcing a
   * good chain cannot hide a node that is behind from the watchdog.
   */
  nodeTip(): ChainTip | undefined {
    const peers = this.deps.nodePeers();
    const node = peers.find((p) => p.isNode);
    let least: ChainTip | undefined;
    for (const p of node ? [node] : peers) {
      const tip = this.tipOf(this.peerChains.peek(p)?.bestHeader);
      if (tip && (!least || tip.chainWork < least.chainWork)) least = tip;
    }
    return least;
  }

  /** What altnet knows of a connection's chain (the best header and best block it has). */
  peerChain(peer: NodePeer): { bestHeader?: ChainTip; bestBlock?: ChainTip } {
    const s = this.peerChains.peek(peer);
    return { bestHeader: this.tipOf(s?.bestHeader), bestBlock: this.tipOf(s?.bestBlock) };
  }

  private tipOf(hash: Uint8Array | undefined): ChainTip | undefined {
    const e = hash && this.deps.chain.getByHash(hash);
    return e ? { hash: hash!, chainWork: e.chainWork, height: e.height } : undefined;
  }

  /** Headers a link delivered. Validated by the chain; never trusted. */
  onLinkHeaders(linkName: string, raw: Uint8Array[]): LinkHeadersResult {
    const { counters, log, chain } = this.deps;
    const link = this.links.get(linkName);
    if (link && !canReceive(link.capabilities)) {
      counters.inc(`link.${linkName}.unexpected_rx`);
      return { accepted: 0, tipChanged: false, sentToNode: 0 };
    }
    counters.inc(`link.${linkName}.headers_rx`, raw.length);
    const outcome = this.addToChain(raw, `link ${linkName}`);
    if (!outcome) return { accepted: 0, tipChanged: false, sentToNode: 0 };
    if (outcome.rejected) {
      counters.inc(`link.${linkName}.invalid_headers`);
      counters.inc(`link.${linkName}.invalid.${outcome.rejected.code}`);
      log.warn('link sent an invalid header', {
        link: linkName,
        index: outcome.rejected.index,
        code: outcome.rejected.code,
        reason: outcome.rejected.message,
      });
    }
    if (outcome.accepted > 0) counters.inc(`link.${linkName}.headers_accepted`, outcome.accepted);
    if (outcome.tipChanged) {
      const tip = chain.tip();
      log.info('chain tip from link', { link: linkName, height: tip.height, hash: hashToHex(tip.hash) });
      this.onTipChanged();
    }
    const sentToNode = this.pushToNode();
    // A batch bigger than any radio answer that moved our tip is a sync in progress: ask at once
    // from the new tip. A source with nothing more answers with nothing; that ends the sync.
    // (One new block's header is no batch: nothing more to ask for.)
    this.awaiting.delete(linkName);
    this.radioAwaiting.delete(linkName);
    if (outcome.tipChanged && outcome.accepted > 0 && raw.length > MAX_RADIO_ANSWER) this.followUp(linkName, 'delivery');
    // On a duplex radio, a full answer (as many headers as a radio answers at most) that moved our
    // tip is a catch-up in progress: ask that peer for the next range at once (request-driven
    // catch-up, codecs/frames.md 3.2), rather than wait for a beacon's carousel to come round.
    if (outcome.tipChanged && outcome.accepted > 0 && raw.length >= MAX_RADIO_ANSWER) this.askRadio(linkName, 'delivery');
    return { ...outcome, sentToNode };
  }

  onLinkTip(linkName: string, report: TipReport): void {
    this.deps.observer?.linkTip(linkName, report);
    const link = this.links.get(linkName);
    if (link && isRadio(link.capabilities)) {
      if (report.hash) this.radioPeerTips.set(linkName, { hash: hashToHex(report.hash), at: this.now() });
      else this.radioPeerTips.delete(linkName);
    }
    // A source claiming more than we have (at start, or after a batch) is asked for it; claims
    // are cheap, so at most once per TIP_FOLLOW_MS unless deliveries keep moving our tip.
    if (report.height > this.deps.chain.tip().height) {
      this.followUp(linkName, 'tip');
      this.askRadio(linkName, 'tip');
    } else {
      // It has nothing more: the sync is done.
      this.awaiting.delete(linkName);
      this.radioAwaiting.delete(linkName);
    }
  }

  /**
   * Request-driven catch-up on a duplex radio: a gateway that is behind asks the peer it heard for
   * the range it lacks (GETHEADERS with our locator; the peer answers from the first entry on its
   * best chain, within its own airtime budget). Never on a receive-only gateway or a link that
   * cannot transmit; a tip claim is followed at most once per RADIO_TIP_FOLLOW_MS.
   */
  private askRadio(linkName: string, why: 'delivery' | 'tip'): void {
    const link = this.links.get(linkName);
    if (!link?.requestHeaders || this.storeFailing || this.mode === 'receive-only') return;
    const caps = link.capabilities;
    if (!isRadio(caps) || !canReceive(caps) || !canTransmit(caps) || !carries(caps, 'headers')) return;
    const now = this.now();
    if (why === 'tip' && now - (this.followedAt.get(linkName) ?? -Infinity) < RADIO_TIP_FOLLOW_MS) return;
    this.followedAt.set(linkName, now);
    this.deps.counters.inc(`link.${linkName}.radio_requests`);
    this.deps.log.info('asking a radio peer for the headers we lack', { link: linkName, why, from: this.deps.chain.tip().height });
    this.awaitRadio(link);
    link.requestHeaders(this.deps.chain.locator());
  }

  /**
   * A radio link was asked for headers: until headers come from it, tick() asks again after
   * about the airtime a full answer takes at the link's bit rate and duty cycle (at least
   * MIN_RADIO_ANSWER_WAIT_MS, half as much again for the modem's per-frame overhead, and up to
   * a quarter more at random so two gateways that collided do not collide again).
   */
  private awaitRadio(link: RouterLink): void {
    const { bitrate, dutyCycle } = link.capabilities;
    const airtime = bitrate > 0 ? (RADIO_ANSWER_BYTES * 8 * 1000 * 1.5) / bitrate : 0;
    const base = Math.max(MIN_RADIO_ANSWER_WAIT_MS, airtime / Math.max(dutyCycle, 1e-4));
    const waitMs = base * (1 + 0.25 * (this.deps.random ?? Math.random)());
    const prev = this.radioAwaiting.get(link.name);
    this.radioAwaiting.set(link.name, { at: this.now(), tries: prev?.tries ?? 0, waitMs });
  }

  /** Asks one internet link for the headers after our tip (never a radio: asking costs airtime). */
  private followUp(linkName: string, why: 'delivery' | 'tip'): void {
    const link = this.links.get(linkName);
    if (!link?.requestHeaders || this.storeFailing) return;
    if (!canReceive(link.capabilities) || !carries(link.capabilities, 'headers') || isRadio(link.capabilities)) return;
    const now = this.now();
    if (why === 'tip' && now - (this.followedAt.get(linkName) ?? -Infinity) < TIP_FOLLOW_MS) return;
    this.followedAt.set(linkName, now);
    if (why === 'delivery') this.awaiting.set(linkName, { at: now, tries: 0 });
    this.deps.counters.inc(`link.${linkName}.follow_ups`);
    link.requestHeaders(this.deps.chain.locator());
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /**
   * Called about every second by the gateway: retries a failing store (every storeRetryMs), and
   * asks again a link that was asked to continue a sync and sent nothing for SYNC_STALL_MS (its
   * answer was lost to a timeout or a dropped connection), up to SYNC_RETRIES times.
   */
  tick(): void {
    const now = this.now();
    this.txAcks.tick();
    if (this.storeFailing && now - this.lastStoreRetry >= (this.deps.storeRetryMs ?? 5000)) {
      this.lastStoreRetry = now;
      this.retryStore();
    }
    for (const [name, w] of this.awaiting) {
      if (now - w.at < SYNC_STALL_MS) continue;
      const link = this.links.get(name);
      if (!link?.requestHeaders || w.tries >= SYNC_RETRIES || this.storeFailing) {
        this.awaiting.delete(name);
        continue;
      }
      w.tries++;
      w.at = now;
      this.deps.counters.inc(`link.${name}.sync_retries`);
      this.deps.log.info('a link asked to continue a sync sent nothing; asking again', { link: name, attempt: w.tries });
      link.requestHeaders(this.deps.chain.locator());
    }
    for (const [name, w] of this.radioAwaiting) {
      if (now - w.at < w.waitMs * 2 ** w.tries) continue;
      const link = this.links.get(name);
      if (!link?.requestHeaders || this.storeFailing || this.mode === 'receive-only' || this.radioPeerInStep(name)) {
        this.radioAwaiting.delete(name);
        continue;
      }
      if (w.tries >= RADIO_RETRIES) {
        this.radioAwaiting.delete(name);
        this.deps.counters.inc(`link.${name}.radio_requests_unanswered`);
        this.deps.log.info('no radio peer answered our header requests; asking again when one claims a higher tip or the link comes up', {
          link: name,
          tries: w.tries + 1,
        });
        continue;
      }
      w.tries++;
      w.at = now;
      this.deps.counters.inc(`link.${name}.radio_request_retries`);
      this.deps.log.info('no answer to our radio header request (lost on air, or no peer heard it); asking again', {
        link: name,
        attempt: w.tries,
        from: this.deps.chain.tip().height,
      });
      link.requestHeaders(this.deps.chain.locator());
    }
  }

  /** A transaction a link received: hand it to the node, which validates it. */
  onLinkTx(linkName: string, raw: Uint8Array): void {
    const peers = this.deps.nodePeers();
    for (const p of peers) p.sendTx(raw);
    this.deps.counters.inc(`link.${linkName}.tx_rx`);
    this.deps.log.info('transaction from link handed to the node', { link: linkName, bytes: raw.length, peers: peers.length });
    if (peers.length) this.txAcks.watch(linkName, raw);
  }

  /** A transaction the node sent us (an answer to the tracker's getdata): the node holds it. */
  private onNodeTx(raw: Uint8Array): void {
    let txid: string;
    try {
      txid = checkTransaction(raw).txid;
    } catch {
      this.deps.counters.inc('router.node_tx_bad');
      return;
    }
    this.txAcks.accepted([fromHex(txid).reverse()]);
  }

  /** Anycast: every link that can ask for headers asks at once. Returns how many asked. */
  requestHeadersEverywhere(reason: string): number {
    const locator = this.deps.chain.locator();
    let asked = 0;
    for (const link of this.links.values()) {
      if (!link.requestHeaders || !canReceive(link.capabilities) || !carries(link.capabilities, 'headers')) continue;
      // On a radio, asking is transmitting: a receive-only gateway only listens there.
      if (this.mode === 'receive-only' && isRadio(link.capabilities)) continue;
      // A radio that cannot transmit cannot ask (it listens for a beacon).
      if (isRadio(link.capabilities) && !canTransmit(link.capabilities)) continue;
      if (isRadio(link.capabilities)) {
        if (this.radioPeerInStep(link.name)) {
          this.deps.counters.inc(`link.${link.name}.radio_requests_skipped_in_step`);
          continue;
        }
        this.radioAwaiting.delete(link.name);
        this.awaitRadio(link);
      }
      link.requestHeaders(locator);
      asked++;
    }
    this.deps.counters.inc('router.anycasts');
    this.deps.log.info('asked every capable link for headers', { reason, links: asked });
    return asked;
  }

  /**
   * Beacon: the tip alone (`tipOnly`, one small frame) or the next carousel batch (beaconNext,
   * BEACON_BATCH headers) on every transmit link that carries headers. Returns how many links.
   */
  beaconHeaders(tipOnly = false): number {
    if (this.mode !== 'beacon') return 0;
    const { chain } = this.deps;
    const tip = chain.tip();
    if (tip.height <= chain.rootHeight) return 0;
    let sent = 0;
    const batch = tipOnly ? this.batchAfter(tip.height - 1, 1) : undefined;
    for (const link of this.links.values()) {
      if (!link.sendHeaders || !canTransmit(link.capabilities) || !carries(link.capabilities, 'headers')) continue;
      if (batch) {
        link.sendHeaders(batch);
        this.carouselOf(link.name).tipped.add(tip.height);
      } else if (!this.beaconNext(link.name, BEACON_BATCH)) continue;
      sent++;
    }
    if (batch) this.deps.counters.inc('router.beacon_tips');
    return sent;
  }

  private carouselOf(linkName: string): Carousel {
    let c = this.carousels.get(linkName);
    if (!c) this.carousels.set(linkName, (c = { batches: [], tipped: new Set(), next: 0 }));
    return c;
  }

  /**
   * A transmitting link is ready for its next beacon batch (framed.ts asks once its last batch
   * has left and its beaconinterval= has passed), of at most `maxHeaders`. The carousel is a list
   * of batches fixed once made (issue 17: a batch that grew by a block changed its message id, so
   * its passes never added up at a lossy receiver): it starts beaconDepth below the tip, full
   * batches are cut from the newest batch's end as the chain grows, and what lies above them goes
   * as a short batch when the round reaches the top (headers that all went alone as tips only
   * once they make half a batch). It goes round from the bottom up, so a receiver behind attaches
   * each batch as it comes and every batch gets its next pass (fresh symbols: framed.ts) one round
   * later; a new carousel starts with its newest batch. The oldest batch leaves once the chain is
   * beaconDepth past its end and it went CAROUSEL_FLOOR_PASSES times, one batch at a time, so a
   * lossy receiver that was within the depth is not stranded below it (issue 17: the floor moved
   * past the oldest batch after its one pass). Returns whether a batch went.
   */
  beaconNext(linkName: string, maxHeaders: number): boolean {
    const link = this.links.get(linkName);
    if (this.mode !== 'beacon' || !link?.sendHeaders || !canTransmit(link.capabilities) || !carries(link.capabilities, 'headers')) {
      return false;
    }
    const { chain, counters, log } = this.deps;
    const size = Math.max(1, Math.min(MAX_BEACON_BATCH, Math.floor(maxHeaders) || BEACON_BATCH));
    const tip = chain.tip();
    const depth = this.deps.beaconDepth ?? DEFAULT_BEACON_DEPTH;
    const floorNow = Math.max(chain.rootHeight, tip.height - depth);
    if (tip.height <= chain.rootHeight) {
      this.beaconHungry.set(linkName, size);
      return false;
    }
    const carousel = this.carouselOf(linkName);
    const { batches, tipped } = carousel;
    const hashAt = (h: number) => {
      const e = chain.getByHeight(h);
      return e ? hashToHex(e.hash) : '';
    };
    // A reorg replaced a batch's headers: it and every batch above it go (made anew below).
    const stale = batches.findIndex((b) => b.end > tip.height || hashAt(b.end) !== b.endHash);
    if (stale >= 0) batches.splice(stale);
    // The oldest leaves once the chain is beaconDepth past it and it had its passes, and in any
    // case CAROUSEL_MAX_DEPTHS beaconDepths below the tip (a beacon that just synced far starts
    // afresh; bounds the carousel when its airtime cannot give every batch its passes).
    while (
      batches.length &&
      batches[0].end <= floorNow &&
      (batches[0].passes >= CAROUSEL_FLOOR_PASSES || batches[0].end <= tip.height - CAROUSEL_MAX_DEPTHS * depth)
    ) {
      batches.shift();
    }
    for (const h of tipped) if (h <= (batches[0]?.parent ?? floorNow)) tipped.delete(h);
    const make = (parent: number, end: number): CarouselBatch => {
      let all = true;
      for (let h = parent + 1; h <= end && all; h++) all = tipped.has(h);
      return { parent, end, endHash: hashAt(end), passes: 0, tipped: all };
    };
    const fresh = batches.length === 0;
    let top = batches.length ? batches[batches.length - 1].end : floorNow;
    for (; tip.height - top >= size; top += size) batches.push(make(top, top + size));
    // A new carousel starts with its newest headers (a receiver just behind gets them at once),
    // then goes round from the bottom.
    if (fresh) carousel.next = top < tip.height ? top : (batches[batches.length - 1]?.parent ?? floorNow);
    // What lies above the full batches: a short batch, made (and fixed) only if it goes now.
    const short = top < tip.height ? make(top, tip.height) : undefined;
    // A short batch of headers that all went as tips is fixed only once it holds half a batch;
    // until then it goes as it is (one frame or a few, its message new each time) at the top of
    // each round: fixed at each turn, the carousel filled with batches of a block or two (issue 17).
    const keepShort = short !== undefined && (!short.tipped || short.end - short.parent >= size / 2);
    // Round the carousel from the bottom up: the next batch at or above where the last one ended
    // (the short one at the top), then from the oldest again.
    const all = short ? [...batches, short] : batches;
    const best = all.find((b) => b.parent >= carousel.next) ?? all[0];
    const batch = best && this.batchAfter(best.parent, best.end - best.parent);
    if (!best || !batch) {
      this.beaconHungry.set(linkName, size);
      return false;
    }
    if (best === short && keepShort) batches.push(short);
    this.beaconHungry.delete(linkName);
    best.passes++;
    // A new batch of headers that all went as tips goes twice in a row (its second pass is a share
    // of its symbols: framed.ts), so a receiver that lost some of the first pass's frames has it
    // within the hour, not a round later (issue 17: a round takes most of a day at SF12 1%, the
    // newest batches were always a round short of decodable, and a lossy receiver stayed that far
    // behind: 206 headers after 5 days, 16 with this).
    carousel.next = best.tipped && best.passes === 1 && batches.includes(best) ? best.parent : best.end;
    link.sendHeaders(batch);
    counters.inc('router.beacons');
    log.debug('beaconed headers', { link: linkName, from: batch.parentHeight + 1, count: batch.headers.length, pass: best.passes });
    return true;
  }

  /** The best chain moved: radio drivers get fresh context, beacons announce the new tip. */
  private onTipChanged(): void {
    this.pushContext();
    if (this.mode === 'beacon') {
      // The new tip at once (one small frame, ahead of any batch), then links that had nothing.
      this.beaconHeaders(true);
      for (const [name, size] of [...this.beaconHungry]) this.beaconNext(name, size);
    }
  }

  /** Send a transaction on every transmit link that carries transactions (except those `skip` names). */
  sendTxOnLinks(raw: Uint8Array, opts?: { skip?: (link: string) => boolean }): string[] {
    if (this.mode === 'receive-only') return [];
    const used: string[] = [];
    for (const link of this.links.values()) {
      if (!link.sendTx || !canTransmit(link.capabilities) || !carries(link.capabilities, 'tx')) continue;
      if (opts?.skip?.(link.name)) continue;
      // A driver still starting may lose it; the outbox tries again while nothing takes it.
      if (link.state !== undefined && link.state !== 'up' && link.state !== 'degraded') continue;
      link.sendTx(raw);
      used.push(link.name);
    }
    return used;
  }

  /**
   * Every connection whose best header has less work than our best chain is sent the headers
   * it lacks (at most one message each; the node asks for the rest with getheaders), the
   * identified node first. Returns the most headers sent to one connection.
   */
  pushToNode(): number {
    const peers = this.deps.nodePeers();
    let most = 0;
    for (const p of peers) most = Math.max(most, this.pushToPeer(p));
    return most;
  }

  private pushToPeer(peer: NodePeer): number {
    const { chain, counters, log } = this.deps;
    const tip = chain.tip();
    const state = this.peerChains.get(peer);
    const has = this.tipOf(state.bestHeader);
    if (has && has.chainWork >= tip.chainWork) return 0;
    // Knowing nothing of the peer, start from our root: the node asks for what it lacks.
    const root = chain.getByHeight(chain.rootHeight)!.hash;
    const locator = state.bestHeader ? [state.bestHeader, ...state.locator] : [...state.locator, root];
    const headers = chain.headersAfter(locator, undefined, MAX_HEADERS_PER_MESSAGE);
    if (headers.length === 0) return 0;
    peer.sendHeaders(headers);
    // Assume it takes them (they passed the same checks it makes); its next getheaders or
    // announcement corrects us if not.
    state.bestHeader = headerHash(headers[headers.length - 1]);
    counters.inc('router.headers_to_node', headers.length);
    log.info('sent the node headers with more work', {
      peer: peer.id,
      node: peer.isNode || undefined,
      count: headers.length,
      upTo: chain.getByHash(state.bestHeader)?.height,
      tip: tip.height,
    });
    return headers.length;
  }

  /**
   * Validates and stores headers. A storage failure (a full disk) is ours, not the sender's:
   * said loudly, counted, never blamed on a link, and not a delivery: once the store works again
   * (retryStore) every link and node connection is asked again from our chain.
   */
  private addToChain(raw: Uint8Array[], from: string): AddHeadersOutcome | undefined {
    try {
      return this.deps.chain.addHeaders(raw);
    } catch (err) {
      const { counters, log } = this.deps;
      counters.inc('chain.add_errors');
      counters.inc('router.headers_not_stored', raw.length);
      if (!this.storeFailing) {
        log.error('could not store headers; they are not counted as delivered and will be asked for again once the store works', {
          from,
          count: raw.length,
          reason: (err as Error).message,
        });
      }
      this.storeFailing = true;
      return undefined;
    }
  }

  /** Whether headers are waiting on a failed store. */
  get storeFailed(): boolean {
    return this.storeFailing;
  }

  /**
   * Called periodically (the gateway's timer): while the store is failing, try to write what it
   * left in memory; once that works, ask every link and node connection again for what was
   * refused meanwhile. Returns true when the store recovered now.
   */
  retryStore(): boolean {
    if (!this.storeFailing) return false;
    const { chain, counters, log } = this.deps;
    let written = 0;
    try {
      written = chain.retryStore?.() ?? 0;
    } catch (err) {
      counters.inc('router.store_retries_failed');
      log.debug('header store still failing', { reason: (err as Error).message });
      return false;
    }
    this.storeFailing = false;
    counters.inc('router.store_recovered');
    const tip = chain.tip();
    log.info('header store works again; asking the links and the node for the headers it could not take', { written, height: tip.height });
    this.onTipChanged();
    this.pushToNode();
    this.requestHeadersEverywhere('the header store works again');
    for (const p of this.deps.nodePeers()) p.requestHeaders(chain.locator());
    return true;
  }

  private onNodeReady(peer: NodePeer): void {
    this.pushToPeer(peer);
  }

  private onNodeHeaders(peer: NodePeer, raw: Uint8Array[]): void {
    if (raw.length === 0) return;
    const { chain, counters, log } = this.deps;
    const outcome = this.addToChain(raw, 'the node');
    if (!outcome) return;
    const last = headerHash(raw[raw.length - 1]);
    if (outcome.rejected?.code === 'prev-not-found' && outcome.rejected.index === 0) {
      // The node is ahead of what we know (we start at a checkpoint, or missed announcements):
      // ask it from our best chain, as Core does with headers that do not connect.
      counters.inc('router.node_unconnecting');
      peer.requestHeaders(chain.locator());
    } else if (outcome.rejected) {
      // Our own node sending a header our rules reject means our rules or its chain differ:
      // worth a loud line, never a crash.
      counters.inc('node.invalid_headers');
      log.warn('the node sent a header altnet rejects', { code: outcome.rejected.code, reason: outcome.rejected.message });
    } else if (outcome.tipChanged && outcome.accepted > 0) {
      // Told us something new: worth its slot (server eviction order).
      peer.lastNovelAt = Date.now();
    }
    if (!outcome.rejected && raw.length === MAX_HEADERS_PER_MESSAGE) {
      // A full batch: the node has more. Keep asking until it answers with less (Core's sync).
      counters.inc('router.node_sync_requests');
      if (chain.height % 20_000 < MAX_HEADERS_PER_MESSAGE) log.info('syncing headers from the node', { height: chain.height });
      peer.requestHeaders([last, ...chain.locator()]);
    }
    // Core sends headers from its active chain: the last one is a block this peer has.
    if (chain.getByHash(last)) this.setPeerTip(peer, last, true);
    if (outcome.tipChanged) this.onTipChanged();
    this.pushToNode();
  }

  private onNodeLocator(peer: NodePeer, locator: Uint8Array[]): void {
    this.peerChains.setLocator(peer, locator);
    const first = locator[0];
    if (first && this.deps.chain.getByHash(first)) this.setPeerTip(peer, first, false);
  }

  private onNodeInv(peer: NodePeer, items: InvItem[]): void {
    const txs = items.filter((i) => (i.type & 0x3fffffff) === InvType.TX || i.type === InvType.WTX).map((i) => i.hash);
    if (txs.length && this.deps.onNodeTxInv) this.deps.onNodeTxInv(txs);
    if (txs.length) this.txAcks.accepted(txs);
    // Core announces blocks by inv instead of headers when more than 8 arrive at once, or when
    // it does not know we have the parent (BIP130); like Core, answer with getheaders, or we
    // would stay behind the node until it next announces by headers.
    const newBlock = items.some((i) => (i.type & 0x3fffffff) === InvType.BLOCK && !this.deps.chain.getByHash(i.hash));
    if (newBlock) {
      this.deps.counters.inc('router.node_block_inv');
      peer.requestHeaders(this.deps.chain.locator());
    }
  }

  private setPeerTip(peer: NodePeer, hash: Uint8Array, hasBlock: boolean): void {
    const state: PeerChain = this.peerChains.get(peer);
    state.bestHeader = hash;
    if (hasBlock) {
      const had = this.tipOf(state.bestBlock);
      const now = this.tipOf(hash);
      if (!had || (now && now.chainWork >= had.chainWork)) state.bestBlock = hash;
    }
    const tip = this.nodeTip();
    if (tip) this.deps.observer?.nodeTip(tip);
  }
}

/** Links under airtime rules or amateur licensing. */
function isRadio(c: LinkCapabilities): boolean {
  return c.dutyCycle < 1 || c.needsCallsign;
}

function carries(c: LinkCapabilities, what: Cargo): boolean {
  return c.carries.includes(what);
}
