// The daemon: one header chain, the node listener, the router, the watchdog and one
// supervised child process per link, plus metrics, hotplug, alerts, the status page and a
// status file. Everything is
// constructed here from explicit options, so tests and the demo can run several gateways in
// one process.
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeaderChain } from '../chain/chain.js';
import { warmUpHeaderValidationOnce } from '../chain/warmup.js';
import { headerHash, parseHeader, workForBits } from '../chain/header.js';
import type { NetworkParams } from '../chain/networks.js';
import { NodeServer } from '../node/server.js';
import type { NodePeerLimits } from '../node/peer.js';
import { NodeRpc, nodeConnectionsTo } from '../node/rpc.js';
import { describeAgreement, Watchdog, type Agreement, type Anomaly, type SourceStanding } from '../watchdog/watchdog.js';
import { Counters } from '../util/counters.js';
import { ConfigError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { hashToHex, hexToHash } from '../util/bytes.js';
import type { TipReport } from '../links/link.js';
import { Router, type ChainTip, type GatewayMode } from './router.js';
import { LinkSupervisor, type SupervisedLinkEvents } from './supervisor.js';
import { startMetricsServer, type MetricsServer } from './metrics.js';
import { DeviceWatcher, isHotplugDevice, linksForDevice } from './hotplug.js';
import { Outbox, outboxDir, type PendingTxStatus } from './outbox.js';
import { ALTNET_VERSION } from '../util/version.js';
import { Alerter } from './alerts.js';
import type { StatusServer } from './status-page.js';
import { METRICS_CONTENT_TYPE, renderPrometheus, type ExplicitFamily, type MetricsMeta } from './metrics.js';
import { Progress, type ProgressSnapshot } from '../util/progress.js';
import { readNodeView } from '../watchdog/node-view.js';
import { FRAME_LINK_TYPES, linkServer, linkTypeEntry } from '../links/registry.js';
import { canReceive } from '../links/link.js';
import { DatadirLock, prepareDatadir } from './datadir.js';
import { BlockStore } from '../blocks/store.js';
import type { NodeRpcOptions } from '../node/rpc.js';
import { Rescue, type RescueRecord } from './rescue.js';
import { LoopLag } from '../util/loop-lag.js';
import { pollWhyFromCode, type PollWhy } from '../links/source/polite.js';

export interface LinkSpec {
  name: string;
  type: string;
  options: Record<string, string>;
}

export interface GatewayOptions {
  network: NetworkParams;
  listen: { host: string; port: number };
  allowRemote?: boolean;
  /** Where the chain and status live; undefined keeps the chain in memory (demo, tests). */
  datadir?: string;
  mode?: GatewayMode;
  links: LinkSpec[];
  log: Logger;
  counters?: Counters;
  staleProbability?: number;
  metrics?: { host: string; port: number };
  /** Links whose `device` lives here are opened when it appears and closed when it goes. */
  devicedir?: string;
  hotplugRescanMs?: number;
  linkRestartMaxMs?: number;
  maxLinkMessageBytes?: number;
  /** Most links run at once (each is a process); more is refused at start (default 16). */
  maxLinks?: number;
  /** Heap limit of each link process, MB (default 96). */
  linkHeapMb?: number;
  v2?: boolean;
  /** Forces the chain to start at genesis (null) or a given checkpoint. */
  checkpoint?: null;
  /** Seconds since the epoch. */
  nowSeconds?: () => number;
  /** Uniform in [0, 1): the jitter of radio request retries, TXACK repeats and outbox resends (tests; default Math.random). */
  random?: () => number;
  /**
   * Also hand `send-tx` transactions to the node (default true). The node never announces a
   * transaction back to the peer that gave it, so with this on "seen by the network" is only
   * noticed when the transaction reaches the node by another route first.
   */
  txToNode?: boolean;
  /**
   * Warn (anomaly node-not-connected) when no node has been connected for this long, ms;
   * default 10 min, 0 never.
   */
  nodeWaitMs?: number;
  /** How often the outbox is rescanned and due re-sends go out, ms (default 2000). */
  outboxRescanMs?: number;
  /** The node's own RPC (noderpc=): tells its connection from other local processes. */
  nodeRpc?: NodeRpcOptions;
  /** Node-port slots (default 8); the node always gets one. */
  maxNodeConnections?: number;
  /** While the header store fails (full disk), how often it is retried, ms (default 5000). */
  storeRetryMs?: number;
  /** Node-port deadlines (tests shorten them). */
  nodePeerLimits?: Partial<NodePeerLimits>;
  /** Read-only status page (and /status.json); may be the metrics address, which it then also serves. */
  status?: { host: string; port: number };
  /** alertnotify: shell command run on each anomaly raised/cleared, `%s` replaced by a sanitized message. */
  alertNotify?: string;
  /** alertwebhook: URL each anomaly event is POSTed to as JSON. */
  alertWebhook?: string;
  /** How long an anomaly must stay clear before "cleared" is notified, ms (default 120 000). */
  alertClearHoldMs?: number;
  /**
   * Beacon: the tip is repeated at least this often, ms. Receiver: a frame link that hears
   * nothing for 3 heartbeats raises link-silent. Default 10 min; 0 turns both off.
   */
  heartbeatMs?: number;
  /** Bound of the block store, bytes (`blockcache=`; default ~300 MB). */
  blockCacheBytes?: number;
  /** Rescue tuning (tests): block request deadline, time the node has to move its tip. */
  blockFetchTimeoutMs?: number;
  rescueConfirmTimeoutMs?: number;
  /** With nodeRpc: how often the node's peers are compared with the links (peers-disagree), ms (default 60 000). */
  nodeViewMs?: number;
}

export interface LinkStatus {
  name: string;
  type: string;
  state: string;
  lastFailure: string;
  restarts: number;
  direction: string;
  carries: string[];
  counters: Record<string, number>;
  /** Frame links (radios): when a frame was last heard, airtime in the duty-cycle window, next frame. */
  /**
   * Times are wall-clock; airtime figures are the link's, in compressed time when `timescale` is
   * set (a simulated link running that many times faster than real time: the demo).
   */
  radio?: {
    lastFrameAt?: string;
    airtimeUsedMs?: number;
    airtimeBudgetMs?: number;
    airtimeWindowMs?: number;
    nextFrameAt?: string;
    timescale?: number;
  };
  /** Polling sources (source/polite.ts): when the link next asks its server on its own, why then, failures in a row. */
  poll?: { nextAt?: string; why?: PollWhy; failures: number };
}

/** One anomaly event, kept for the status page's history. */
export interface AnomalyEvent {
  at: string;
  event: 'raised' | 'cleared';
  kind: string;
  key: string;
  detail: string;
  /** Independent sources agreeing on the best chain, and how many reported, when it happened. */
  agreement?: { agreeing: number; sources: number };
}

/**
 * How many independent sources agree on the best chain (watchdog.ts, Agreement), as status shows
 * it: it informs the operator and never gates what goes to the node.
 */
export interface AgreementStatus {
  agreeing: number;
  sources: number;
  best: { height: number; chainWork: string };
  standings: SourceStanding[];
  /** One line: "2 of 3 independent source(s) agree ...". */
  summary: string;
}

function agreementStatus(a: Agreement): AgreementStatus {
  return {
    agreeing: a.agreeing,
    sources: a.sources,
    best: { height: a.best.height, chainWork: '0x' + a.best.chainWork.toString(16) },
    standings: a.standings,
    summary: describeAgreement(a),
  };
}

const ANOMALY_HISTORY = 100;
/** A receiving frame link is silent after this many heartbeats without a frame. */
const SILENT_HEARTBEATS = 3;

export interface GatewayStatus {
  version: string;
  network: string;
  mode: GatewayMode;
  /** host:port the node connects to (the port actually bound). */
  listen: string;
  startedAt: string;
  updatedAt: string;
  node: {
    connections: number;
    /** `node`: identified as the user's node through its RPC (noderpc). */
    peers: Array<{ id: string; transport?: string; agent?: string; node?: boolean }>;
    tip?: { height: number; hash: string };
  };
  chain: { height: number; hash: string; chainWork: string };
  links: LinkStatus[];
  anomalies: Array<{ kind: string; key: string; since: string; detail: string; agreement?: AgreementStatus }>;
  /** Agreement on the best chain among the independent sources, now. */
  agreement: AgreementStatus;
  /** The last anomaly events, oldest first. */
  anomalyHistory: AnomalyEvent[];
  /** Header sync progress (the last job, kept once finished). */
  sync?: ProgressSnapshot;
  /** Block fetch progress of the current (or last) rescue. */
  blockSync?: ProgressSnapshot;
  /** With noderpc: the node's active tip and its other peers, as its RPC last said. */
  nodeView?:
    { at: string; activeHeight: number; activeHash: string; otherPeers: number; peersBestHeight: number } | { at: string; error: string };
  /** Transactions from `altnet send-tx` not yet seen back from the network. */
  pendingTx: PendingTxStatus[];
  /** Rescues (blocks fetched, verified and pushed to the node), newest first. */
  rescues: RescueRecord[];
  blocks: { stored: number; bytes: number; maxBytes: number };
  counters: Record<string, number>;
}

export { ALTNET_VERSION };

/** Most links run at once, and each link process's heap limit (MB): see maxlinks, linkheap. */
export const DEFAULT_MAX_LINKS = 16;
export const DEFAULT_LINK_HEAP_MB = 96;

export class Gateway {
  readonly router: Router;
  readonly watchdog: Watchdog;
  readonly counters: Counters;
  readonly blocks: BlockStore;
  readonly rescue: Rescue;
  private readonly supervisors = new Map<string, LinkSupervisor>();
  private readonly specs = new Map<string, LinkSpec>();
  private server: NodeServer | undefined;
  private metrics: MetricsServer | undefined;
  private devices: DeviceWatcher | undefined;
  /** Pending `send-tx` transactions; only with a datadir. */
  outbox: Outbox | undefined;
  private timers: NodeJS.Timeout[] = [];
  private lock: DatadirLock | undefined;
  /** How late the event loop runs timers (util/loop-lag.ts); probed only when metrics are served. */
  private readonly loopLag = new LoopLag();
  private readonly startedAt = new Date();
  nodePort = 0;
  readonly alerts: Alerter;
  private statusServer: StatusServer | undefined;
  private readonly anomalyHistory: AnomalyEvent[] = [];
  /** Links that are no longer running: what status shows for them. */
  private readonly ended = new Map<
    string,
    { state: string; lastFailure: string; restarts: number; direction: string; carries: string[]; counters: Record<string, number> }
  >();
  /** Highest tip each link claimed (a claim; used only as the sync progress target). */
  private readonly linkTipHeights = new Map<string, number>();
  /** Last frames_rx count seen per watched link (to notice frames being heard). */
  private readonly framesSeen = new Map<string, number>();
  private readonly headerSync: Progress;
  private blockSync: { id: number; progress: Progress } | undefined;
  private nodeView: GatewayStatus['nodeView'];

  private constructor(
    readonly opts: GatewayOptions,
    readonly chain: HeaderChain,
  ) {
    const log = opts.log;
    this.counters = opts.counters ?? new Counters();
    const nowSeconds = opts.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
    this.alerts = new Alerter({
      notify: opts.alertNotify,
      webhook: opts.alertWebhook,
      network: opts.network.name,
      log: log.child('alerts'),
      counters: this.counters.scoped('alerts.'),
      clearHoldMs: opts.alertClearHoldMs,
    });
    this.headerSync = new Progress({ what: 'header sync', unit: 'headers', log: log.child('sync') });
    this.watchdog = new Watchdog({
      log: log.child('watchdog'),
      counters: this.counters.scoped('watchdog.'),
      nowSeconds,
      staleProbability: opts.staleProbability,
      onAnomaly: (a, change) => this.onAnomaly(a, change),
      // Agreement: tips are weighed against our validated chain; links to one server count once.
      chain: {
        best: () => {
          const t = this.chain.tip();
          return { height: t.height, chainWork: t.chainWork };
        },
        workOf: (hash) => this.chain.getByHash(hash)?.chainWork,
      },
      originOf: (link) => {
        const spec = this.specs.get(link);
        return (spec && linkServer(spec.type, spec.options)) ?? link;
      },
      nodeConnection: {
        connections: () => this.server?.readyPeers().length ?? 0,
        waitSeconds: (opts.nodeWaitMs ?? 600_000) / 1000,
        address: () => this.listenAddress(),
      },
    });
    this.router = new Router({
      chain,
      log: log.child('router'),
      counters: this.counters,
      mode: opts.mode,
      storeRetryMs: opts.storeRetryMs,
      random: opts.random,
      schedule: (ms, fn) => setTimeout(fn, ms).unref(),
      nodePeers: () => this.server?.readyPeers() ?? [],
      onNodeTxInv: (hashes) => this.outbox?.markSeen(hashes),
      observer: {
        nodeTip: (tip) => this.observeNodeTip(tip),
        linkTip: (link, report) => this.observeLinkTip(link, report),
      },
    });
    this.blocks = BlockStore.open({
      dir: opts.datadir ? join(opts.datadir, `blocks-${opts.network.name}`) : undefined,
      maxBytes: opts.blockCacheBytes,
      log: log.child('blocks'),
      counters: this.counters,
    });
    this.rescue = new Rescue({
      chain,
      log: log.child('rescue'),
      counters: this.counters,
      store: this.blocks,
      links: () => [...this.supervisors.values()],
      // The node itself once identified through its RPC; until then every ready peer.
      nodePeers: () => {
        const peers = this.server?.readyPeers() ?? [];
        const node = peers.filter((p) => p.isNode);
        return node.length ? node : peers;
      },
      anomalySince: () => {
        const since = this.watchdog.active().map((a) => a.since);
        return since.length ? Math.min(...since) * 1000 : undefined;
      },
      rpc: opts.nodeRpc && new NodeRpc(opts.nodeRpc),
      fetchTimeoutMs: opts.blockFetchTimeoutMs,
      confirmTimeoutMs: opts.rescueConfirmTimeoutMs,
    });
  }

  static async start(opts: GatewayOptions): Promise<Gateway> {
    const maxLinks = opts.maxLinks ?? DEFAULT_MAX_LINKS;
    if (opts.links.length > maxLinks) {
      // Each link is a process (~50 MB resident at least): refuse before starting anything.
      throw new ConfigError(
        'too-many-links',
        `${opts.links.length} links are configured but maxlinks=${maxLinks}; remove links or raise maxlinks (each link is a process of its own, with up to linkheap MB of heap)`,
      );
    }
    const log = opts.log;
    const counters = opts.counters ?? new Counters();
    const chainOpts = {
      network: opts.network,
      log: log.child('chain'),
      counters: counters.scoped('chain.'),
      nowSeconds: opts.nowSeconds,
      ...(opts.checkpoint === null ? { checkpoint: null } : {}),
    };
    let chain: HeaderChain;
    let lock: DatadirLock | undefined;
    if (opts.datadir) {
      prepareDatadir(opts.datadir);
      // One daemon per datadir: a second one would write the same header file, status and outbox.
      lock = DatadirLock.acquire(
        opts.datadir,
        {
          network: opts.network.name,
          mode: opts.mode ?? 'gateway',
          listen: '',
          startedAt: new Date().toISOString(),
          version: ALTNET_VERSION,
        },
        log,
      );
      try {
        chain = await HeaderChain.open(join(opts.datadir, `headers-${opts.network.name}.dat`), chainOpts);
      } catch (err) {
        lock.release();
        throw err;
      }
    } else {
      chain = new HeaderChain(chainOpts);
    }
    const gw = new Gateway({ ...opts, counters }, chain);
    gw.lock = lock;
    try {
      await gw.startParts();
    } catch (err) {
      await gw.stop();
      throw err;
    }
    return gw;
  }

  private async startParts(): Promise<void> {
    const { opts } = this;
    const log = opts.log;
    const tip = this.chain.tip();
    log.info('altnet starting', {
      version: ALTNET_VERSION,
      network: opts.network.name,
      mode: opts.mode ?? 'gateway',
      chainHeight: tip.height,
      links: opts.links.length,
    });
    const rpc = opts.nodeRpc && new NodeRpc(opts.nodeRpc);
    this.server = new NodeServer({
      host: opts.listen.host,
      port: opts.listen.port,
      allowRemote: opts.allowRemote,
      network: opts.network,
      log: log.child('node'),
      counters: this.counters,
      chain: this.chain,
      v2: opts.v2,
      maxConnections: opts.maxNodeConnections,
      limits: opts.nodePeerLimits,
      nodeConnections: opts.nodeRpc && ((port) => nodeConnectionsTo(rpc!, port)),
      objects: { getBlock: (hash) => this.rescue.getBlock(hash), getTx: () => undefined },
      events: {
        ...this.router.nodeEvents,
        ready: (peer) => {
          this.router.nodeEvents.ready(peer);
          this.rescue.onNodeReady(peer);
        },
        headers: (peer, raw) => {
          this.router.nodeEvents.headers(peer, raw);
          this.rescue.onNodeHeaders(peer, raw);
        },
      },
    });
    this.nodePort = await this.server.listen();
    if (rpc) {
      const poll = () => void this.pollNodeView(rpc);
      this.timers.push(setInterval(poll, opts.nodeViewMs ?? 60_000));
      setTimeout(poll, 1000).unref();
    }
    this.lock?.update({ listen: this.listenAddress() });

    for (const spec of opts.links) this.specs.set(spec.name, spec);
    const devicedir = opts.devicedir;
    for (const spec of opts.links) {
      const device = spec.options.device;
      // A hotplugged radio is opened when its device appears, not before.
      if (devicedir && device && isHotplugDevice(device, devicedir)) continue;
      this.startLink(spec);
    }
    // While the link drivers start (nothing to validate yet): warm V8 up on header validation, so
    // the first real batch runs optimised code (issue 18; npm run --silent bench -- coldstart).
    const warm = warmUpHeaderValidationOnce(opts.network, opts.nowSeconds?.());
    if (warm) log.info('header validation warmed up', { headers: warm.accepted, ms: Math.round(warm.ms) });
    if (devicedir && opts.links.some((s) => s.options.device && isHotplugDevice(s.options.device, devicedir))) {
      this.devices = new DeviceWatcher({
        dir: devicedir,
        log: log.child('hotplug'),
        counters: this.counters, // its names carry the hotplug. prefix already
        rescanMs: opts.hotplugRescanMs,
      });
      this.devices.on('appeared', (path) => {
        for (const name of linksForDevice(this.linkOptions(), path)) {
          log.info('device plugged in; opening its link', { device: path, link: name });
          this.startLink(this.specs.get(name)!);
        }
      });
      this.devices.on('gone', (path) => {
        for (const name of linksForDevice(this.linkOptions(), path)) {
          log.info('device unplugged; closing its link', { device: path, link: name });
          void this.stopLink(name, 'waiting-for-device');
        }
      });
      await this.devices.start();
    }

    if (opts.datadir) {
      // Members of the datadir's group (the service's `altnet` group) may queue with send-tx:
      // the outbox is group-writable and setgid, so what they write stays in that group.
      const outDir = outboxDir(opts.datadir, opts.network.name);
      mkdirSync(outDir, { recursive: true });
      chmodSync(outDir, 0o2770);
      this.outbox = new Outbox({
        dir: outDir,
        log: log.child('outbox'),
        counters: this.counters,
        rescanMs: opts.outboxRescanMs,
        random: opts.random,
        send: (raw, sendOpts) => {
          // Acknowledged over the air: radio links (family radio: LoRa, KISS, BLE, sim) stop; internet sources may still take it.
          const skip = sendOpts?.skipRadio
            ? (name: string) => linkTypeEntry(this.specs.get(name)?.type ?? '')?.family === 'radio'
            : undefined;
          const links = this.router.sendTxOnLinks(raw, { skip });
          const peers = (opts.txToNode ?? true) ? (this.server?.readyPeers() ?? []) : [];
          for (const p of peers) p.sendTx(raw);
          return { links, nodePeers: peers.length };
        },
      });
      this.outbox.start();
    }
    this.watchdog.start(10_000);
    this.rescue.start(1000);
    this.timers.push(setInterval(() => this.router.tick(), 1000));
    const shareMetrics = opts.status && opts.metrics && opts.status.host === opts.metrics.host && opts.status.port === opts.metrics.port;
    if (opts.metrics) {
      this.loopLag.start();
    }
    if (opts.status) {
      // The status page (off by default) and node:http load only when it is served (issue 18).
      const { startStatusServer } = await import('./status-page.js');
      this.statusServer = await startStatusServer({
        host: opts.status.host,
        port: opts.status.port,
        log: log.child('status'),
        status: () => this.status() as unknown as Record<string, unknown>,
        metrics: shareMetrics
          ? () => ({ body: renderPrometheus(this.counters.snapshot(), this.metricsMeta()), contentType: METRICS_CONTENT_TYPE })
          : undefined,
      });
    }
    if (opts.metrics && !shareMetrics) {
      this.metrics = await startMetricsServer({
        host: opts.metrics.host,
        port: opts.metrics.port,
        counters: this.counters,
        log: log.child('metrics'),
        meta: () => this.metricsMeta(),
      });
    }
    const heartbeat = opts.heartbeatMs ?? 600_000;
    if ((opts.mode ?? 'gateway') === 'beacon') {
      // Header batches go when each radio asks for them (beaconWanted: its last batch has left and
      // its beaconinterval= has passed), new tips at once (router.onTipChanged).
      // The heartbeat: the tip alone (one small frame), so receivers can tell silence from no news.
      if (heartbeat > 0) this.timers.push(setInterval(() => this.router.beaconHeaders(true), heartbeat));
    }
    this.timers.push(setInterval(() => this.observe(), 1000));
    if (opts.datadir) this.timers.push(setInterval(() => this.writeStatus(), 2000));
    for (const t of this.timers) t.unref();
  }

  /** host:port the node connects to, with the port actually bound. */
  listenAddress(): string {
    const h = this.opts.listen.host;
    return `${h.includes(':') ? `[${h}]` : h}:${this.nodePort || this.opts.listen.port}`;
  }

  /** The link's supervisor, if it is running. */
  link(name: string): LinkSupervisor | undefined {
    return this.supervisors.get(name);
  }

  private linkOptions(): Record<string, Record<string, string>> {
    return Object.fromEntries([...this.specs.values()].map((s) => [s.name, s.options]));
  }

  startLink(spec: LinkSpec): void {
    if (this.supervisors.has(spec.name)) return;
    this.ended.delete(spec.name);
    const events: SupervisedLinkEvents = {
      headers: (link, raw) => {
        const r = this.router.onLinkHeaders(link.name, raw);
        if (r.tipChanged) this.rescue.noteHeaderLink(link.name);
        // Valid headers a link brought show how far its chain reaches, whether or not it reports
        // tips (a beacon's batches): the watchdog's agreement counts them.
        const last = !r.rejected && raw.length ? this.chain.getByHash(headerHash(raw[raw.length - 1])) : undefined;
        if (last) this.watchdog.observeLinkDelivery(link.name, { height: last.height, hash: last.hash });
        return !r.rejected;
      },
      block: (link, hash, raw) => this.rescue.fetcher.onBlock(link.name, hash, raw),
      blockMissing: (link, hash, reason) => this.rescue.fetcher.onMissing(link.name, hash, reason),
      tx: (link, raw) => this.router.onLinkTx(link.name, raw),
      tip: (link, report) => this.router.onLinkTip(link.name, report),
      headersWanted: (link, req) => this.router.onLinkHeadersWanted(link.name, req),
      txAck: (link, prefixes) => this.outbox?.markRelayed(prefixes, link.name),
      beaconWanted: (link, max) => this.router.beaconNext(link.name, max),
      hello: (link) => {
        this.router.pushContext(link);
        this.watchForSilence(spec, link);
        // An internet source is `up` only once it has answered: ask it at once.
        if (
          linkTypeEntry(spec.type)?.family === 'source' &&
          canReceive(link.capabilities) &&
          link.capabilities.carries.includes('headers')
        ) {
          link.requestHeaders(this.chain.locator());
        }
      },
      state: (link, state, reason) => {
        this.opts.log.info('link state', { link: link.name, state, reason: reason || undefined });
        if (state === 'up' && link.capabilities.direction !== 'tx') this.router.requestHeadersEverywhere(`link ${link.name} came up`);
      },
    };
    const sup = new LinkSupervisor({
      name: spec.name,
      type: spec.type,
      options: spec.options,
      network: this.opts.network.name,
      log: this.opts.log.child(`link:${spec.name}`),
      counters: this.counters,
      events,
      backoff: { initialMs: 1000, maxMs: this.opts.linkRestartMaxMs ?? 60_000 },
      maxMessageBytes: this.opts.maxLinkMessageBytes,
      heapMb: this.opts.linkHeapMb ?? DEFAULT_LINK_HEAP_MB,
    });
    this.supervisors.set(spec.name, sup);
    this.router.addLink(sup);
    sup.start();
  }

  /**
   * Stops a link. Status then shows it `stopped` (or `waiting-for-device` when its radio was
   * unplugged), with its last failure and counters.
   */
  async stopLink(name: string, after: 'stopped' | 'waiting-for-device' = 'stopped'): Promise<void> {
    const sup = this.supervisors.get(name);
    if (!sup) return;
    this.supervisors.delete(name);
    this.router.removeLink(name);
    this.watchdog.forgetLink(name);
    this.linkTipHeights.delete(name);
    this.framesSeen.delete(name);
    await sup.stop();
    this.ended.set(name, {
      state: after,
      lastFailure: sup.reason,
      restarts: sup.restarts,
      direction: sup.capabilities.direction,
      carries: sup.capabilities.carries,
      counters: { ...sup.driverCounters },
    });
  }

  /**
   * A receiving frame link (radio) in a gateway that is not the beacon hears a beacon that
   * repeats its tip every heartbeat: three heartbeats of silence is an anomaly.
   */
  private watchForSilence(spec: LinkSpec, link: LinkSupervisor): void {
    const heartbeat = this.opts.heartbeatMs ?? 600_000;
    if (heartbeat <= 0 || (this.opts.mode ?? 'gateway') === 'beacon') return;
    if (!FRAME_LINK_TYPES.includes(spec.type) || !canReceive(link.capabilities) || !link.capabilities.carries.includes('headers')) return;
    this.framesSeen.set(spec.name, link.driverCounters.frames_rx ?? 0);
    this.watchdog.watchSilence(spec.name, (SILENT_HEARTBEATS * heartbeat) / 1000, heartbeat / 1000);
  }

  /** Every second: frames heard on watched links, and header sync progress. */
  private observe(): void {
    for (const [name, seen] of this.framesSeen) {
      const now = this.supervisors.get(name)?.driverCounters.frames_rx ?? 0;
      if (now !== seen) {
        this.framesSeen.set(name, now);
        if (now > seen) this.watchdog.observeLinkHeard(name);
      }
    }
    this.headerSync.update(this.chain.tip().height, this.syncTarget());
    // Blocks of the current rescue: fork to target, as delivered to the node.
    const r = this.rescue.records()[0];
    if (r && (r.state === 'fetching' || r.state === 'delivering' || r.state === 'done')) {
      if (this.blockSync?.id !== r.id) {
        const progress = new Progress({
          what: 'block fetch',
          unit: 'blocks',
          log: this.opts.log.child('rescue'),
          fields: { rescue: r.id },
        });
        this.blockSync = { id: r.id, progress };
      }
      this.blockSync.progress.update(r.blocksDelivered, Math.max(0, r.target.height - r.forkHeight));
    }
  }

  /** Compares what the node's own peers have shown it with the links' chain (peers-disagree). */
  private async pollNodeView(rpc: NodeRpc): Promise<void> {
    const at = new Date().toISOString();
    try {
      const v = await readNodeView(rpc, this.nodePort);
      const tip = this.chain.tip();
      const known = this.chain.getByHash(hexToHash(v.activeHash));
      const chainAhead = known ? tip.chainWork > known.chainWork : tip.height > v.activeHeight;
      this.nodeView = {
        at,
        activeHeight: v.activeHeight,
        activeHash: v.activeHash,
        otherPeers: v.peers.length,
        peersBestHeight: v.peersBestHeight,
      };
      this.watchdog.observePeerView({
        otherPeers: v.peers.length,
        peersBestHeight: v.peersBestHeight,
        nodeHeight: v.activeHeight,
        chainHeight: tip.height,
        chainAhead,
      });
    } catch (err) {
      const error = (err as Error).message;
      this.counters.inc('node.rpc_failures');
      const before = this.nodeView && 'error' in this.nodeView ? this.nodeView.error : undefined;
      if (before !== error) this.opts.log.warn("cannot read the node's peers over its RPC", { error });
      this.nodeView = { at, error };
    }
  }

  /** The highest height anyone claims: the node (its version message) or a link (its tip report). */
  private syncTarget(): number {
    let target = 0;
    for (const p of this.server?.readyPeers() ?? []) target = Math.max(target, p.version?.startHeight ?? 0);
    for (const h of this.linkTipHeights.values()) target = Math.max(target, h);
    return target;
  }

  private observeNodeTip(tip: ChainTip): void {
    const raw = this.chain.getByHash(tip.hash)?.header;
    const time = raw ? parseHeader(raw).time : 0;
    this.watchdog.observeNodeTip({ height: tip.height, hash: tip.hash, time, chainWork: tip.chainWork });
  }

  /**
   * A link's claimed tip. Claims are worth little, so the work is what our chain says for a
   * hash we know, else an extrapolation at our tip's difficulty (enough to notice "ahead").
   */
  private observeLinkTip(link: string, report: TipReport): void {
    if (this.supervisors.has(link)) this.linkTipHeights.set(link, Math.max(report.height, this.linkTipHeights.get(link) ?? 0));
    const known = report.hash && this.chain.getByHash(report.hash);
    let chainWork: bigint;
    if (known) chainWork = known.chainWork;
    else {
      const tip = this.chain.tip();
      const perBlock = workForBits(parseHeader(tip.header ?? this.opts.network.genesisHeader).bits);
      chainWork = tip.chainWork + BigInt(Math.max(0, report.height - tip.height)) * perBlock;
      if (report.height < tip.height) chainWork = 0n;
    }
    this.watchdog.observeLinkTip(link, { height: report.height, chainWork, hash: report.hash });
  }

  private onAnomaly(a: Anomaly, change: 'raised' | 'cleared'): void {
    this.anomalyHistory.push({
      at: new Date().toISOString(),
      event: change,
      kind: a.kind,
      key: a.key,
      detail: a.detail,
      ...(a.agreement ? { agreement: { agreeing: a.agreement.agreeing, sources: a.agreement.sources } } : {}),
    });
    if (this.anomalyHistory.length > ANOMALY_HISTORY) this.anomalyHistory.shift();
    this.alerts.onAnomaly(a, change);
    if (change === 'raised') this.router.requestHeadersEverywhere(a.detail);
  }

  status(): GatewayStatus {
    const tip = this.chain.tip();
    const nodeTip = this.router.nodeTip();
    const peers = this.server?.readyPeers() ?? [];
    const snapshot = this.counters.snapshot();
    return {
      version: ALTNET_VERSION,
      network: this.opts.network.name,
      mode: this.opts.mode ?? 'gateway',
      listen: this.listenAddress(),
      startedAt: this.startedAt.toISOString(),
      updatedAt: new Date().toISOString(),
      node: {
        connections: peers.length,
        peers: peers.map((p) => ({ id: p.id, transport: p.transportKind, agent: p.version?.userAgent, node: p.isNode || undefined })),
        tip: nodeTip && { height: nodeTip.height, hash: hashToHex(nodeTip.hash) },
      },
      chain: { height: tip.height, hash: hashToHex(tip.hash), chainWork: '0x' + tip.chainWork.toString(16) },
      links: [...this.specs.values()].map((spec) => {
        const sup = this.supervisors.get(spec.name);
        const ended = this.ended.get(spec.name);
        const prefix = `link.${spec.name}.`;
        const parent = Object.fromEntries(
          Object.entries(snapshot)
            .filter(([k]) => k.startsWith(prefix))
            .map(([k, v]) => [k.slice(prefix.length), v]),
        );
        const driver = sup?.driverCounters ?? ended?.counters ?? {};
        const status: LinkStatus = {
          name: spec.name,
          type: spec.type,
          state: sup ? sup.state : (ended?.state ?? 'waiting-for-device'),
          lastFailure: sup?.reason ?? ended?.lastFailure ?? '',
          restarts: sup?.restarts ?? ended?.restarts ?? 0,
          direction: sup?.capabilities.direction ?? ended?.direction ?? 'unknown',
          carries: sup?.capabilities.carries ?? ended?.carries ?? [],
          counters: { ...driver, ...parent },
        };
        if (FRAME_LINK_TYPES.includes(spec.type)) status.radio = radioStatus(driver);
        if (driver['poll.why'] !== undefined) status.poll = pollStatus(driver);
        return status;
      }),
      anomalies: this.watchdog.active().map((a) => ({
        kind: a.kind,
        key: a.key,
        since: new Date(a.since * 1000).toISOString(),
        detail: a.detail,
        ...(a.agreement ? { agreement: agreementStatus(a.agreement) } : {}),
      })),
      agreement: agreementStatus(this.watchdog.agreement()),
      anomalyHistory: [...this.anomalyHistory],
      sync: this.headerSync.snapshot(),
      blockSync: this.blockSync?.progress.snapshot(),
      ...(this.nodeView ? { nodeView: this.nodeView } : {}),
      pendingTx: this.outbox?.pending() ?? [],
      rescues: this.rescue.records(),
      blocks: { stored: this.blocks.count, bytes: this.blocks.bytes, maxBytes: this.blocks.maxBytes },
      counters: snapshot,
    };
  }

  /** Written atomically for `altnet status`, which reads it without talking to the daemon. */
  writeStatus(): void {
    if (!this.opts.datadir) return;
    const path = join(this.opts.datadir, 'status.json');
    const replacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);
    try {
      // 0640: readable by the service's group, so `altnet status` works for its members.
      writeFileSync(path + '.tmp', JSON.stringify(this.status(), replacer, 2), { mode: 0o640 });
      renameSync(path + '.tmp', path);
    } catch (err) {
      this.opts.log.warn('could not write status file', { path, error: (err as Error).message });
    }
  }

  private metricsMeta(): MetricsMeta {
    const tip = this.chain.tip();
    const agreement = this.watchdog.agreement();
    const nodeTip = this.router.nodeTip();
    // Each link driver's own counters (frames, airtime, its process's memory...), under its link.
    const values: Record<string, number> = {};
    const gaugeNames = this.counters.gaugeNames();
    const rss: ExplicitFamily['samples'] = [{ labels: { process: 'main' }, value: process.memoryUsage.rss() }];
    const lag: ExplicitFamily['samples'] = [];
    const lagMax: ExplicitFamily['samples'] = [];
    if (this.opts.metrics) {
      const { meanSeconds, maxSeconds } = this.loopLag.take();
      lag.push({ labels: { process: 'main' }, value: meanSeconds });
      lagMax.push({ labels: { process: 'main' }, value: maxSeconds });
    }
    for (const [name, sup] of this.supervisors) {
      const c = sup.driverCounters;
      for (const [k, v] of Object.entries(c)) {
        if (k.startsWith('process.')) continue;
        values[`link.${name}.${k}`] = v;
      }
      for (const g of sup.driverGauges) gaugeNames.push(`link.${name}.${g}`);
      const proc = `link:${name}`;
      if (c['process.rss_bytes'] !== undefined) rss.push({ labels: { process: proc }, value: c['process.rss_bytes'] });
      if (c['process.eventloop_lag_seconds'] !== undefined)
        lag.push({ labels: { process: proc }, value: c['process.eventloop_lag_seconds'] });
      if (c['process.eventloop_lag_max_seconds'] !== undefined)
        lagMax.push({ labels: { process: proc }, value: c['process.eventloop_lag_max_seconds'] });
    }
    return {
      values,
      gaugeNames,
      families: [
        {
          name: 'process_resident_memory_bytes',
          type: 'gauge',
          help: 'Resident memory of each altnet process: the main one and every link driver (process="link:<name>").',
          samples: rss,
        },
        {
          name: 'process_eventloop_lag_seconds',
          type: 'gauge',
          help: "Mean delay of each process's event loop over the last interval (a busy or starved process runs its timers late).",
          samples: lag,
        },
        {
          name: 'process_eventloop_lag_max_seconds',
          type: 'gauge',
          help: "Worst delay of each process's event loop over the last interval.",
          samples: lagMax,
        },
      ],
      info: { version: ALTNET_VERSION, network: this.opts.network.name },
      gauges: {
        'chain.height': tip.height,
        'node.height': nodeTip?.height ?? -1,
        'node.connections': this.server?.readyPeers().length ?? 0,
        'watchdog.active_anomalies': this.watchdog.active().length,
        'watchdog.sources_agreeing': agreement.agreeing,
        'watchdog.sources_reporting': agreement.sources,
        uptime_seconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      },
    };
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.outbox?.stop();
    this.rescue.stop();
    this.watchdog.stop?.();
    await this.alerts.stop();
    await this.statusServer?.close();
    await this.devices?.stop();
    await Promise.all([...this.supervisors.keys()].map((n) => this.stopLink(n)));
    await this.server?.close();
    await this.metrics?.close();
    this.loopLag.stop();
    this.writeStatus();
    this.chain.close();
    this.lock?.release();
    this.lock = undefined;
    this.opts.log.info('altnet stopped');
  }

  /** Port of the status page, when it is served. */
  get statusPort(): number | undefined {
    return this.statusServer?.port;
  }
}

/** What a frame driver's gauges say about its radio (see RadioTransport.airtimeGauges). */
function pollStatus(c: Record<string, number>): NonNullable<LinkStatus['poll']> {
  const at = c['poll.next_at_ms'];
  return {
    nextAt: at && at > 0 ? new Date(at).toISOString() : undefined,
    why: pollWhyFromCode(c['poll.why']),
    failures: c['poll.failures'] ?? 0,
  };
}

function radioStatus(c: Record<string, number>): NonNullable<LinkStatus['radio']> {
  const iso = (ms: number | undefined) => (ms && ms > 0 ? new Date(ms).toISOString() : undefined);
  return {
    lastFrameAt: iso(c.last_frame_rx_at_ms),
    airtimeUsedMs: c.airtime_window_used_ms,
    airtimeBudgetMs: c.airtime_window_budget_ms,
    airtimeWindowMs: c.airtime_window_ms,
    nextFrameAt: iso(c.next_tx_at_ms),
    ...(c.timescale > 1 && { timescale: c.timescale }),
  };
}
