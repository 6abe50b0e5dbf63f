// The daemon: one header chain, the node listener, the router, the watchdog and one
// supervised child process per link, plus metrics, hotplug and a status file. Everything is
// constructed here from explicit options, so tests and the demo can run several gateways in
// one process.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeaderChain } from '../chain/chain.js';
import { parseHeader, workForBits } from '../chain/header.js';
import type { NetworkParams } from '../chain/networks.js';
import { NodeServer } from '../node/server.js';
import type { NodePeerLimits } from '../node/peer.js';
import { NodeRpc, nodeConnectionsTo } from '../node/rpc.js';
import { Watchdog, type Anomaly } from '../watchdog/watchdog.js';
import { Counters } from '../util/counters.js';
import type { Logger } from '../util/log.js';
import { hashToHex } from '../util/bytes.js';
import type { TipReport } from '../links/link.js';
import { Router, type ChainTip, type GatewayMode } from './router.js';
import { LinkSupervisor, type SupervisedLinkEvents } from './supervisor.js';
import { startMetricsServer, type MetricsServer } from './metrics.js';
import { DeviceWatcher, isHotplugDevice, linksForDevice } from './hotplug.js';
import { Outbox, outboxDir, type PendingTxStatus } from './outbox.js';
import { ALTNET_VERSION } from '../util/version.js';

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
  /** Beacon mode: how often the latest headers are repeated, ms. */
  beaconIntervalMs?: number;
  v2?: boolean;
  /** Forces the chain to start at genesis (null) or a given checkpoint. */
  checkpoint?: null;
  /** Seconds since the epoch. */
  clock?: () => number;
  /**
   * Also hand `send-tx` transactions to the node (default true). The node never announces a
   * transaction back to the peer that gave it, so with this on "seen by the network" is only
   * noticed when the transaction reaches the node by another route first.
   */
  txToNode?: boolean;
  /** How often the outbox is rescanned and due re-sends go out, ms (default 2000). */
  outboxRescanMs?: number;
  /** The node's own RPC (noderpc=): tells its connection from other local processes. */
  nodeRpc?: { host: string; port: number; cookieFile?: string };
  /** Node-port slots (default 8); the node always gets one. */
  maxNodeConnections?: number;
  /** Node-port deadlines (tests shorten them). */
  nodePeerLimits?: Partial<NodePeerLimits>;
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
}

export interface GatewayStatus {
  version: string;
  network: string;
  mode: GatewayMode;
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
  anomalies: Array<{ kind: string; since: string; detail: string }>;
  /** Transactions from `altnet send-tx` not yet seen back from the network. */
  pendingTx: PendingTxStatus[];
  counters: Record<string, number>;
}

export { ALTNET_VERSION };

export class Gateway {
  readonly router: Router;
  readonly watchdog: Watchdog;
  readonly counters: Counters;
  private readonly supervisors = new Map<string, LinkSupervisor>();
  private readonly specs = new Map<string, LinkSpec>();
  private server: NodeServer | undefined;
  private metrics: MetricsServer | undefined;
  private devices: DeviceWatcher | undefined;
  /** Pending `send-tx` transactions; only with a datadir. */
  outbox: Outbox | undefined;
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAt = new Date();
  nodePort = 0;

  private constructor(
    readonly opts: GatewayOptions,
    readonly chain: HeaderChain,
  ) {
    const log = opts.log;
    this.counters = opts.counters ?? new Counters();
    const clock = opts.clock ?? (() => Math.floor(Date.now() / 1000));
    this.watchdog = new Watchdog({
      log: log.child('watchdog'),
      counters: this.counters.scoped('watchdog.'),
      clock,
      staleProbability: opts.staleProbability,
      onAnomaly: (a, change) => this.onAnomaly(a, change),
    });
    this.router = new Router({
      chain,
      log: log.child('router'),
      counters: this.counters,
      mode: opts.mode,
      nodePeers: () => this.server?.readyPeers() ?? [],
      onNodeTxInv: (hashes) => this.outbox?.markSeen(hashes),
      observer: {
        nodeTip: (tip) => this.observeNodeTip(tip),
        linkTip: (link, report) => this.observeLinkTip(link, report),
      },
    });
  }

  static async start(opts: GatewayOptions): Promise<Gateway> {
    const log = opts.log;
    const counters = opts.counters ?? new Counters();
    const chainOpts = {
      network: opts.network,
      log: log.child('chain'),
      counters: counters.scoped('chain.'),
      clock: opts.clock,
      ...(opts.checkpoint === null ? { checkpoint: null } : {}),
    };
    let chain: HeaderChain;
    if (opts.datadir) {
      mkdirSync(opts.datadir, { recursive: true });
      chain = await HeaderChain.open(join(opts.datadir, `headers-${opts.network.name}.dat`), chainOpts);
    } else {
      chain = new HeaderChain(chainOpts);
    }
    const gw = new Gateway({ ...opts, counters }, chain);
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
      events: this.router.nodeEvents,
      maxConnections: opts.maxNodeConnections,
      limits: opts.nodePeerLimits,
      nodeConnections: opts.nodeRpc && ((port) => nodeConnectionsTo(rpc!, port)),
    });
    this.nodePort = await this.server.listen();

    for (const spec of opts.links) this.specs.set(spec.name, spec);
    const devicedir = opts.devicedir;
    for (const spec of opts.links) {
      const device = spec.options.device;
      // A hotplugged radio is opened when its device appears, not before.
      if (devicedir && device && isHotplugDevice(device, devicedir)) continue;
      this.startLink(spec);
    }
    if (devicedir && opts.links.some((s) => s.options.device && isHotplugDevice(s.options.device, devicedir))) {
      this.devices = new DeviceWatcher({ dir: devicedir, log: log.child('hotplug'), counters: this.counters.scoped('hotplug.'), rescanMs: opts.hotplugRescanMs });
      this.devices.on('appeared', (path) => {
        for (const name of linksForDevice(this.linkOptions(), path)) {
          log.info('device plugged in; opening its link', { device: path, link: name });
          this.startLink(this.specs.get(name)!);
        }
      });
      this.devices.on('gone', (path) => {
        for (const name of linksForDevice(this.linkOptions(), path)) {
          log.info('device unplugged; closing its link', { device: path, link: name });
          void this.stopLink(name);
        }
      });
      await this.devices.start();
    }

    if (opts.datadir) {
      this.outbox = new Outbox({
        dir: outboxDir(opts.datadir, opts.network.name),
        log: log.child('outbox'),
        counters: this.counters,
        rescanMs: opts.outboxRescanMs,
        send: (raw) => {
          const links = this.router.sendTxOnLinks(raw);
          const peers = (opts.txToNode ?? true) ? (this.server?.readyPeers() ?? []) : [];
          for (const p of peers) p.sendTx(raw);
          return { links, nodePeers: peers.length };
        },
      });
      this.outbox.start();
    }
    this.watchdog.start(10_000);
    if (opts.metrics) {
      this.metrics = await startMetricsServer({
        host: opts.metrics.host,
        port: opts.metrics.port,
        counters: this.counters,
        log: log.child('metrics'),
        meta: () => this.metricsMeta(),
      });
    }
    if ((opts.mode ?? 'gateway') === 'beacon') {
      const every = opts.beaconIntervalMs ?? 60_000;
      this.timers.push(setInterval(() => this.router.beaconHeaders(), every));
    }
    if (opts.datadir) this.timers.push(setInterval(() => this.writeStatus(), 2000));
    for (const t of this.timers) t.unref();
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
    const events: SupervisedLinkEvents = {
      headers: (link, raw) => !this.router.onLinkHeaders(link.name, raw).rejected,
      tx: (link, raw) => this.router.onLinkTx(link.name, raw),
      tip: (link, report) => this.router.onLinkTip(link.name, report),
      headersWanted: (link, req) => this.router.onLinkHeadersWanted(link.name, req),
      hello: (link) => this.router.pushContext(link),
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
    });
    this.supervisors.set(spec.name, sup);
    this.router.addLink(sup);
    sup.start();
  }

  async stopLink(name: string): Promise<void> {
    const sup = this.supervisors.get(name);
    if (!sup) return;
    this.supervisors.delete(name);
    this.router.removeLink(name);
    this.watchdog.forgetLink(name);
    await sup.stop();
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
    const known = report.hash && this.chain.getByHash(report.hash);
    let chainWork: bigint;
    if (known) chainWork = known.chainWork;
    else {
      const tip = this.chain.tip();
      const perBlock = workForBits(parseHeader(tip.header ?? this.opts.network.genesisHeader).bits);
      chainWork = tip.chainWork + BigInt(Math.max(0, report.height - tip.height)) * perBlock;
      if (report.height < tip.height) chainWork = 0n;
    }
    this.watchdog.observeLinkTip(link, { height: report.height, chainWork });
  }

  private onAnomaly(a: Anomaly, change: 'raised' | 'cleared'): void {
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
        const prefix = `link.${spec.name}.`;
        const parent = Object.fromEntries(Object.entries(snapshot).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
        return {
          name: spec.name,
          type: spec.type,
          state: sup ? sup.state : 'waiting-for-device',
          lastFailure: sup?.reason ?? '',
          restarts: sup?.restarts ?? 0,
          direction: sup?.capabilities.direction ?? 'unknown',
          carries: sup?.capabilities.carries ?? [],
          counters: { ...(sup?.driverCounters ?? {}), ...parent },
        };
      }),
      anomalies: this.watchdog.active().map((a) => ({ kind: a.kind, since: new Date(a.since * 1000).toISOString(), detail: a.detail })),
      pendingTx: this.outbox?.pending() ?? [],
      counters: snapshot,
    };
  }

  /** Written atomically for `altnet status`, which reads it without talking to the daemon. */
  writeStatus(): void {
    if (!this.opts.datadir) return;
    const path = join(this.opts.datadir, 'status.json');
    const replacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);
    try {
      writeFileSync(path + '.tmp', JSON.stringify(this.status(), replacer, 2));
      renameSync(path + '.tmp', path);
    } catch (err) {
      this.opts.log.warn('could not write status file', { path, error: (err as Error).message });
    }
  }

  private metricsMeta() {
    const tip = this.chain.tip();
    const nodeTip = this.router.nodeTip();
    return {
      info: { version: ALTNET_VERSION, network: this.opts.network.name },
      gauges: {
        'chain.height': tip.height,
        'node.height': nodeTip?.height ?? -1,
        'node.connections': this.server?.readyPeers().length ?? 0,
        'watchdog.active_anomalies': this.watchdog.active().length,
        uptime_seconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      },
    };
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.outbox?.stop();
    this.watchdog.stop?.();
    await this.devices?.stop();
    await Promise.all([...this.supervisors.keys()].map((n) => this.stopLink(n)));
    await this.server?.close();
    await this.metrics?.close();
    this.writeStatus();
    this.chain.close();
    this.opts.log.info('altnet stopped');
  }
}
