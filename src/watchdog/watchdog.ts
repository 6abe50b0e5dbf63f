// Watches the node's view of the chain against time and against what the links report, and
// raises anomalies: a tip older than the Poisson block process makes plausible, a link that
// knows more work than the node, or a beacon link that has heard nothing for too long (a beacon
// repeats its tip every `heartbeat`, so silence means "no signal", not "no news"). Each anomaly is raised once (logged, counted, reported to
// onAnomaly), stays active while the condition holds, and is cleared (logged, reported) when it
// stops. The watchdog owns no timers unless start() is called, and that one is unref'd.
// It also counts how many independent sources agree on the best chain (agreement()): that count
// goes into every anomaly and the status, and informs only: valid proof of work from a single
// source still goes to the node, since work cannot be faked.
import { ConfigError } from '../util/errors.js';
import type { Counters } from '../util/counters.js';
import type { Logger } from '../util/log.js';
import { hashToHex } from '../util/bytes.js';
import { compareNames } from '../util/order.js';

export type AnomalyKind = 'stale-tip' | 'link-more-work' | 'link-silent' | 'node-not-connected' | 'peers-disagree';

export interface Anomaly {
  kind: AnomalyKind;
  /** Identifies one anomaly: `stale-tip`, `node-not-connected`, `peers-disagree`, `link-more-work:<link>` or `link-silent:<link>`. */
  key: string;
  /** When the condition began (seconds, the watchdog's nowSeconds). */
  since: number;
  /** One human-readable line: what is wrong and what it means. */
  detail: string;
  /** The link concerned, for link anomalies. */
  link?: string;
  /** How many independent sources agreed on the best chain when the anomaly was raised (kept current while active). */
  agreement?: Agreement;
}

/** One source's standing against the best chain. */
export interface SourceStanding {
  /** The server (or link) it stands for; several links to one server count once. */
  origin: string;
  links: string[];
  /** Highest tip height its links reported. */
  height: number;
  /**
   * agrees: its tip has the best chain's work; behind: its tip is a block we hold with less work
   * (lagging, or a weaker branch); unproven: a tip we do not hold (ahead of us, or on a chain we
   * never saw); a claim, not work.
   */
  standing: 'agrees' | 'behind' | 'unproven';
}

/**
 * Agreement on the best chain: of the independent sources that reported a tip, how many report
 * one with the best known chain's work. Independent means distinct origins: a link's server
 * (Esplora host, Electrum server, DNS zone, P2P peer) or, for radio and random-peer links, the
 * link itself; two links to the same server count once, and agree if either does.
 */
export interface Agreement {
  agreeing: number;
  sources: number;
  /** The best known chain (altnet's validated headers). */
  best: { height: number; chainWork: bigint };
  standings: SourceStanding[];
}

export type AnomalyChange = 'raised' | 'cleared';

export interface NodeTip {
  height: number;
  /** Internal byte order. */
  hash: Uint8Array;
  /** The tip header's timestamp (seconds). */
  time: number;
  chainWork: bigint;
}

export interface LinkTip {
  height: number;
  chainWork: bigint;
  /** The tip's hash when the link named it (internal order): its work is looked up again each time. */
  hash?: Uint8Array;
}

/**
 * What the node's own RPC says about its peers (getpeerinfo, getchaintips), set against the
 * validated chain the links brought.
 */
export interface PeerView {
  /** The node's peers other than altnet. */
  otherPeers: number;
  /** Highest `synced_headers` among them: how far any of them has shown the node headers. */
  peersBestHeight: number;
  /** The node's active tip (getchaintips). */
  nodeHeight: number;
  /** altnet's best validated chain. */
  chainHeight: number;
  /** Whether that chain has more work than the node's active tip. */
  chainAhead: boolean;
}

export interface WatchdogOptions {
  log: Logger;
  /** Counter names are unprefixed (`raised.stale-tip`, `active`): pass counters.scoped('watchdog.'). */
  counters: Counters;
  /** Seconds since the epoch. */
  nowSeconds: () => number;
  /** Alarm when P(no block for the tip's age) falls below this. Default 1e-4 (about 92 minutes). */
  staleProbability?: number;
  /** Mean block interval of the Poisson process, seconds. Default 600. */
  blockInterval?: number;
  /**
   * How long a link must stay ahead of the node before it is an anomaly: a link announcing a block
   * a few seconds before the node has it is normal propagation. Default 60 s; 0 raises at once.
   */
  moreWorkGraceSeconds?: number;
  /** Most links tracked at once; reports from further link names are ignored and counted. */
  maxLinks?: number;
  onAnomaly?: (anomaly: Anomaly, change: AnomalyChange) => void;
  /**
   * Watch that the node connects: how many node connections there are now, how long to wait for
   * one (seconds, counted from construction and from the last connection seen), and the address
   * the node should dial, quoted in the anomaly. Without it node-not-connected is never raised.
   */
  nodeConnection?: { connections: () => number; waitSeconds: number; address: () => string };
  /**
   * For agreement(): the best known chain, and the work of a block we hold (undefined: not
   * held). Without them agreement() counts a link as agreeing when its reported work reaches
   * the node's, and as unproven otherwise.
   */
  chain?: { best: () => { height: number; chainWork: bigint }; workOf: (hash: Uint8Array) => bigint | undefined };
  /** The server a link reaches (see Agreement); default: the link's own name. */
  originOf?: (link: string) => string;
}

function describeSeconds(s: number): string {
  const r = Math.round(s);
  if (r < 120) return `${r} s`;
  if (r < 7200) return `${Math.round(r / 60)} min`;
  return `${(r / 3600).toFixed(1)} h`;
}

/** Age t at which P(no block in t) = exp(-t / interval) equals `probability`. */
export function staleThresholdSeconds(probability: number, blockInterval = 600): number {
  return -blockInterval * Math.log(probability);
}

interface LinkState {
  tip: LinkTip;
  /** When this link was first seen ahead of the node in the current stretch; undefined when not ahead. */
  aheadSince?: number;
}

export class Watchdog {
  /** Tip age (seconds) above which stale-tip is raised. */
  readonly staleAfterSeconds: number;
  private readonly log: Logger;
  private readonly counters: Counters;
  private readonly nowSeconds: () => number;
  private readonly probability: number;
  private readonly blockInterval: number;
  private readonly grace: number;
  private readonly maxLinks: number;
  private readonly onAnomaly?: (anomaly: Anomaly, change: AnomalyChange) => void;
  private node: NodeTip | undefined;
  private readonly links = new Map<string, LinkState>();
  /** The last valid header each link delivered (agreement only; claims stay in `links`). */
  private readonly delivered = new Map<string, { height: number; hash: Uint8Array }>();
  /** Links expected to hear frames: when each was last heard and how much silence is too much. */
  private readonly listening = new Map<string, { lastHeard: number; afterSeconds: number; heartbeatSeconds: number }>();
  private readonly activeByKey = new Map<string, Anomaly>();
  private peerView: { view: PeerView; disagreeSince?: number } | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly nodeConnection: WatchdogOptions['nodeConnection'];
  /** When a node connection was last seen (or the watch began). */
  private nodeLastConnected: number;
  private readonly chainView: WatchdogOptions['chain'];
  private readonly originOf: (link: string) => string;

  constructor(opts: WatchdogOptions) {
    const p = opts.staleProbability ?? 1e-4;
    if (!(p > 0 && p < 1)) {
      throw new ConfigError('watchdog-probability', `stale-tip probability must be between 0 and 1 (exclusive), got ${p}`);
    }
    const interval = opts.blockInterval ?? 600;
    if (!(interval > 0)) throw new ConfigError('watchdog-interval', `block interval must be positive, got ${interval}`);
    this.log = opts.log;
    this.counters = opts.counters;
    this.nowSeconds = opts.nowSeconds;
    this.probability = p;
    this.blockInterval = interval;
    this.grace = opts.moreWorkGraceSeconds ?? 60;
    this.maxLinks = opts.maxLinks ?? 64;
    this.onAnomaly = opts.onAnomaly;
    this.staleAfterSeconds = staleThresholdSeconds(p, interval);
    this.nodeConnection = opts.nodeConnection && opts.nodeConnection.waitSeconds > 0 ? opts.nodeConnection : undefined;
    this.nodeLastConnected = opts.nowSeconds();
    this.chainView = opts.chain;
    this.originOf = opts.originOf ?? ((l) => l);
  }

  /** Records the node's best header; returns anomalies this raised (they also go to onAnomaly). */
  observeNodeTip(tip: NodeTip): Anomaly[] {
    this.node = { height: tip.height, hash: Uint8Array.from(tip.hash), time: tip.time, chainWork: tip.chainWork };
    return this.check();
  }

  /** Records what a link says its best chain is; returns anomalies this raised. */
  observeLinkTip(linkName: string, tip: LinkTip): Anomaly[] {
    let state = this.links.get(linkName);
    if (!state) {
      if (this.links.size >= this.maxLinks) {
        this.counters.inc('links-ignored');
        return [];
      }
      state = { tip };
      this.links.set(linkName, state);
    }
    state.tip = { height: tip.height, chainWork: tip.chainWork, hash: tip.hash && Uint8Array.from(tip.hash) };
    return this.check();
  }

  /**
   * A link delivered valid headers ending at this block (held in our chain). Used for agreement
   * only: a link that brings headers but reports no tip (a beacon's batches) still counts.
   */
  observeLinkDelivery(linkName: string, last: { height: number; hash: Uint8Array }): void {
    const prev = this.delivered.get(linkName);
    if (!prev && this.delivered.size >= this.maxLinks) return;
    // Keep the best delivery, not the latest: a beacon's carousel repeats old batches (router.ts,
    // bottom up), and a repeat of a batch at height 4 must not make a link that delivered height 10
    // look behind. By work when the chain knows both blocks, else by height.
    if (prev && !this.betterOrEqual(last, prev)) return;
    this.delivered.set(linkName, { height: last.height, hash: Uint8Array.from(last.hash) });
  }

  /** Whether delivery `a` reaches at least as far as `b`: by chain work when both are held, else by height. */
  private betterOrEqual(a: { height: number; hash: Uint8Array }, b: { height: number; hash: Uint8Array }): boolean {
    const wa = this.chainView?.workOf(a.hash);
    const wb = this.chainView?.workOf(b.hash);
    if (wa !== undefined && wb !== undefined) return wa >= wb;
    if (wb === undefined && wa !== undefined) return true;
    return a.height >= b.height;
  }

  /**
   * How many independent sources agree on the best chain's work, now. A link stands by its
   * reported tip and by the best valid header it delivered, the better of the two; both are
   * looked up again each time (a tip reported before its headers arrived agrees once they are
   * held; a source that agreed is behind once the best chain moves past it).
   */
  agreement(): Agreement {
    const best = this.chainView?.best() ?? { height: this.node?.height ?? 0, chainWork: this.node?.chainWork ?? 0n };
    const byOrigin = new Map<string, SourceStanding>();
    const rank = { agrees: 2, unproven: 1, behind: 0 } as const;
    const standingOf = (tip: { height: number; chainWork?: bigint; hash?: Uint8Array }): SourceStanding['standing'] => {
      if (!this.chainView) return (tip.chainWork ?? 0n) >= best.chainWork ? 'agrees' : 'behind';
      const work = tip.hash ? this.chainView.workOf(tip.hash) : undefined;
      if (work === undefined) return tip.height < best.height ? 'behind' : 'unproven';
      return work >= best.chainWork ? 'agrees' : 'behind';
    };
    for (const name of new Set([...this.links.keys(), ...this.delivered.keys()])) {
      const seen = [this.links.get(name)?.tip, this.delivered.get(name)].filter((t) => t !== undefined);
      let standing: SourceStanding['standing'] = 'behind';
      let height = 0;
      for (const t of seen) {
        const st = standingOf(t);
        if (rank[st] > rank[standing]) standing = st;
        height = Math.max(height, t.height);
      }
      const origin = this.originOf(name);
      const s = byOrigin.get(origin);
      if (!s) byOrigin.set(origin, { origin, links: [name], height, standing });
      else {
        s.links.push(name);
        s.height = Math.max(s.height, height);
        if (rank[standing] > rank[s.standing]) s.standing = standing;
      }
    }
    const standings = [...byOrigin.values()].sort((a, b) => compareNames(a.origin, b.origin));
    for (const s of standings) s.links.sort();
    return { agreeing: standings.filter((s) => s.standing === 'agrees').length, sources: standings.length, best, standings };
  }

  /**
   * Expects frames on a link (a receiver of a beacon that repeats its tip every
   * `heartbeatSeconds`): link-silent is raised when nothing was heard for `afterSeconds`.
   * The silence is counted from now.
   */
  watchSilence(linkName: string, afterSeconds: number, heartbeatSeconds: number): void {
    if (!(afterSeconds > 0)) throw new ConfigError('watchdog-silence', `silence threshold must be positive, got ${afterSeconds}`);
    if (!this.listening.has(linkName) && this.listening.size >= this.maxLinks) {
      this.counters.inc('links-ignored');
      return;
    }
    this.listening.set(linkName, { lastHeard: this.nowSeconds(), afterSeconds, heartbeatSeconds });
  }

  /**
   * The node's peers as its RPC reports them. When the links show a chain with more work than
   * the node's and none of the node's own peers has shown it headers that far (for the grace
   * period), its peers are keeping the better chain from it: peers-disagree.
   */
  observePeerView(view: PeerView): Anomaly[] {
    const disagree = view.chainAhead && view.otherPeers > 0 && view.peersBestHeight < view.chainHeight;
    const since = disagree ? (this.peerView?.disagreeSince ?? this.nowSeconds()) : undefined;
    this.peerView = { view: { ...view }, disagreeSince: since };
    return this.check();
  }

  /** A watched link heard a frame; clears its link-silent at once. */
  observeLinkHeard(linkName: string): Anomaly[] {
    const l = this.listening.get(linkName);
    if (!l) return [];
    l.lastHeard = this.nowSeconds();
    return this.check();
  }

  /** Stops tracking a link (it was removed); clears its anomalies. */
  forgetLink(linkName: string): void {
    this.links.delete(linkName);
    this.delivered.delete(linkName);
    this.listening.delete(linkName);
    this.check();
  }

  /** Re-evaluates every condition; returns the anomalies raised by this call (usually none). */
  check(): Anomaly[] {
    const now = this.nowSeconds();
    const raised: Anomaly[] = [];
    const stillActive = new Set<string>();

    if (this.nodeConnection) {
      const { connections, waitSeconds, address } = this.nodeConnection;
      if (connections() > 0) this.nodeLastConnected = now;
      else if (now - this.nodeLastConnected >= waitSeconds) {
        const a = this.raise(
          {
            kind: 'node-not-connected',
            key: 'node-not-connected',
            since: this.nodeLastConnected + waitSeconds,
            detail:
              `no Bitcoin node has been connected to ${address()} for ${describeSeconds(now - this.nodeLastConnected)}: ` +
              `put addnode=${address()} in bitcoin.conf and restart the node (or check that it runs); until it connects altnet cannot give it what it learns`,
          },
          raised,
        );
        stillActive.add(a.key);
      }
    }

    if (this.node) {
      const age = now - this.node.time;
      if (age > this.staleAfterSeconds) {
        const pNone = Math.exp(-age / this.blockInterval);
        const a = this.raise(
          {
            kind: 'stale-tip',
            key: 'stale-tip',
            since: this.node.time + this.staleAfterSeconds,
            detail:
              `node tip ${hashToHex(this.node.hash)} at height ${this.node.height} is ${Math.round(age / 60)} min old; ` +
              `no block for that long has probability ${pNone.toPrecision(2)} (threshold ${this.probability}): the node may be cut off from the network`,
          },
          raised,
        );
        stillActive.add(a.key);
      }
    }

    for (const [name, state] of this.links) {
      const ahead = this.node !== undefined && state.tip.chainWork > this.node.chainWork;
      if (!ahead) {
        state.aheadSince = undefined;
        continue;
      }
      state.aheadSince ??= now;
      if (now - state.aheadSince < this.grace) continue;
      const a = this.raise(
        {
          kind: 'link-more-work',
          key: `link-more-work:${name}`,
          link: name,
          since: state.aheadSince,
          detail:
            `link ${name} reports a chain at height ${state.tip.height} with more work than the node's ` +
            `(height ${this.node!.height}): the node may be eclipsed; fetching headers above ${this.node!.height} from the links`,
        },
        raised,
      );
      stillActive.add(a.key);
    }

    for (const [name, l] of this.listening) {
      const quiet = now - l.lastHeard;
      if (quiet <= l.afterSeconds) continue;
      const a = this.raise(
        {
          kind: 'link-silent',
          key: `link-silent:${name}`,
          link: name,
          since: l.lastHeard + l.afterSeconds,
          detail:
            `link ${name} has heard no frame for ${describeSeconds(quiet)} although its beacon repeats the tip every ` +
            `${describeSeconds(l.heartbeatSeconds)}: no signal (radio, antenna, jamming or the beacon is down), so silence no longer means no new blocks`,
        },
        raised,
      );
      stillActive.add(a.key);
    }

    const pv = this.peerView;
    if (pv?.disagreeSince !== undefined && now - pv.disagreeSince >= this.grace) {
      const v = pv.view;
      const a = this.raise(
        {
          kind: 'peers-disagree',
          key: 'peers-disagree',
          since: pv.disagreeSince,
          detail:
            `the links show a chain at height ${v.chainHeight} with more work than the node's (height ${v.nodeHeight}), but none of the node's ` +
            `${v.otherPeers} other peer(s) has shown it headers beyond height ${v.peersBestHeight}: its peers may be hiding the better chain (eclipse)`,
        },
        raised,
      );
      stillActive.add(a.key);
    }

    for (const [key, a] of this.activeByKey) {
      if (stillActive.has(key)) continue;
      this.activeByKey.delete(key);
      this.counters.inc(`cleared.${a.kind}`);
      this.log.info('anomaly cleared', { kind: a.kind, key, lastedSeconds: Math.round(now - a.since) });
      this.onAnomaly?.(a, 'cleared');
    }
    this.counters.set('active', this.activeByKey.size);
    return raised;
  }

  active(): Anomaly[] {
    return [...this.activeByKey.values()].map((a) => ({ ...a }));
  }

  /** Runs check() every `intervalMs` on an unref'd timer (never keeps the process alive). */
  start(intervalMs = 10_000): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private raise(a: Anomaly, raised: Anomaly[]): Anomaly {
    const agreement = this.agreement();
    a.agreement = agreement;
    // Anomalies about the chain say in words how many sources back the best chain.
    if (a.kind === 'stale-tip' || a.kind === 'link-more-work' || a.kind === 'peers-disagree')
      a.detail += `; ${describeAgreement(agreement)}`;
    const existing = this.activeByKey.get(a.key);
    if (existing) {
      existing.detail = a.detail; // keep the text current for status; no new event
      existing.agreement = agreement;
      return existing;
    }
    this.activeByKey.set(a.key, a);
    raised.push({ ...a });
    this.counters.inc(`raised.${a.kind}`);
    this.log.warn('anomaly', { kind: a.kind, key: a.key, detail: a.detail, agreeing: agreement.agreeing, sources: agreement.sources });
    this.onAnomaly?.({ ...a }, 'raised');
    return a;
  }
}

/** "2 of 3 independent sources agree on the best chain (height 840000); behind: x (839998)", for details and status. */
export function describeAgreement(a: Agreement): string {
  if (a.sources === 0) return 'no source has reported a tip yet';
  const others = a.standings.filter((s) => s.standing !== 'agrees');
  const tail = others.length
    ? `; ${others.map((s) => `${s.origin}${s.links.length > 1 || s.links[0] !== s.origin ? ` (${s.links.join(',')})` : ''} ${s.standing} at ${s.height}`).join(', ')}`
    : '';
  return `${a.agreeing} of ${a.sources} independent source(s) agree on the best chain (height ${a.best.height})${tail}`;
}
