// Watches the node's view of the chain against time and against what the links report, and
// raises anomalies: a tip older than the Poisson block process makes plausible, a link that
// knows more work than the node, or a beacon link that has heard nothing for too long (a beacon
// repeats its tip every `heartbeat`, so silence means "no signal", not "no news"). Each anomaly is raised once (logged, counted, reported to
// onAnomaly), stays active while the condition holds, and is cleared (logged, reported) when it
// stops. The watchdog owns no timers unless start() is called, and that one is unref'd.
import { ConfigError } from '../util/errors.js';
import type { Counters } from '../util/counters.js';
import type { Logger } from '../util/log.js';
import { hashToHex } from '../util/bytes.js';

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
  /** Links expected to hear frames: when each was last heard and how much silence is too much. */
  private readonly listening = new Map<string, { lastHeard: number; afterSeconds: number; heartbeatSeconds: number }>();
  private readonly activeByKey = new Map<string, Anomaly>();
  private peerView: { view: PeerView; disagreeSince?: number } | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly nodeConnection: WatchdogOptions['nodeConnection'];
  /** When a node connection was last seen (or the watch began). */
  private nodeLastConnected: number;

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
    state.tip = { height: tip.height, chainWork: tip.chainWork };
    return this.check();
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
    const existing = this.activeByKey.get(a.key);
    if (existing) {
      existing.detail = a.detail; // keep the text current for status; no new event
      return existing;
    }
    this.activeByKey.set(a.key, a);
    raised.push({ ...a });
    this.counters.inc(`raised.${a.kind}`);
    this.log.warn('anomaly', { kind: a.kind, key: a.key, detail: a.detail });
    this.onAnomaly?.({ ...a }, 'raised');
    return a;
  }
}
