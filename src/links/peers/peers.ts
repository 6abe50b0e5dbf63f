// Random Bitcoin P2P peers as a header source: addresses from the network's DNS seeds (or the
// `seeds` given), Bitcoin Core's fixed seeds (./fixed-seeds.ts) when the seeds give nothing,
// and the addr/addrv2 gossip of the peers met go into an address book; `connections` peers from
// distinct netgroups are connected at a time, each a P2PLink (../p2p: BIP324 first, v1
// fallback, every answer checked); a peer caught lying is banned in the book and replaced by
// one from another netgroup.
//
// Under a SOCKS5 proxy (Tor), as Bitcoin Core with -proxy: no name is looked up here (the DNS
// seeds are not resolved locally; instead a one-shot connection goes to each seed's name
// through the proxy, which resolves it, and asks that node for addresses, Core's
// "addrfetch"), every peer is dialled through the proxy with its name or address unresolved,
// and .onion peers become usable. onlynet=onion: only .onion peers (fixed seeds and gossip).
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import type { Link, LinkCapabilities, LinkContext, LinkState } from '../link.js';
import { readLinkOptions } from '../options.js';
import { P2P_CAPABILITIES, P2PLink, type PeerAddress } from '../p2p/p2p.js';
import { SourceUnavailableError } from '../source/index.js';
import { parseHostPort, type HostPort } from '../../util/net.js';
import { readProxyOption } from '../source/dial.js';
import { isOnion } from '../../node/addrv2.js';
import { FIXED_SEEDS } from './fixed-seeds.js';
import { ConfigError } from '../../util/errors.js';
import { AddressBook, bookKey, isPublicAddress, netgroup, type BookEntry } from './book.js';
import { DNS_SEEDS, PEERS_OPTIONS } from './options.js';

export interface PeersLinkOptions {
  name: string;
  connections: number;
  seeds: readonly string[];
  /** Resolver for the seeds; undefined: the system's. */
  dnsServer?: HostPort;
  port: number;
  bookPath?: string;
  timeoutMs: number;
  v2: boolean;
  /** Swap the longest-connected peer for another this often; 0: never. */
  rotateMs?: number;
  /** Fixed seeds, `host:port` (create() passes the network's FIXED_SEEDS; tests their own). */
  fixedSeeds?: readonly string[];
  /** SOCKS5 proxy: every peer through it, names unresolved; seeds asked through it; onion peers usable. */
  proxy?: HostPort;
  /** onlynet=onion: only .onion peers (needs `proxy`). */
  onlyOnion?: boolean;
  /** How long a one-shot connection to a seed's name (under a proxy) waits for its addresses. */
  addrFetchMs?: number;
}

/** At most this many new book entries from one peer per run (a getaddr answer can hold 1,000). */
export const MAX_NEW_PER_PEER = 200;

/** At most this many seeds are asked through the proxy at start (each a connection through Tor). */
const ADDR_FETCH_SEEDS = 3;

interface Slot {
  host: string;
  port: number;
  group: string;
  link: P2PLink;
  /** When it connected (ms since epoch). */
  since: number;
}

export class PeersLink implements Link {
  readonly name: string;
  readonly capabilities: LinkCapabilities = P2P_CAPABILITIES;
  readonly book: AddressBook;
  private slots: Slot[] = [];
  /** Addresses tried this run that did not connect: not tried again until restart. */
  private readonly failed = new Set<string>();
  private stopped = false;
  private context: { fromHeight: number; headers: Uint8Array[] } | null = null;
  private filling: Promise<void> | null = null;
  private state: LinkState = 'stopped';
  private rotateTimer: ReturnType<typeof setInterval> | undefined;
  /** The peer just rotated out: not picked again by the fill that replaces it. */
  private resting: string | undefined;
  /** Whether the fixed seeds went into the book this run. */
  private fixedAdded = false;
  /** New book entries each peer (host:port) gave this run; at most MAX_NEW_PER_PEER. */
  private readonly learnedFrom = new Map<string, number>();

  constructor(
    private readonly opts: PeersLinkOptions,
    private readonly ctx: LinkContext,
  ) {
    this.name = opts.name;
    this.book = new AddressBook(opts.bookPath, (why) => {
      ctx.counters.inc('book.damaged');
      ctx.log.warn('address book unreadable; starting a new one', { link: this.name, path: opts.bookPath, error: why });
    });
  }

  /** The peers connected now (host, port, netgroup). */
  get peers(): Array<{ host: string; port: number; group: string }> {
    return this.slots.map(({ host, port, group }) => ({ host, port, group }));
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.setState('starting');
    if (this.opts.onlyOnion && !this.opts.proxy)
      throw new ConfigError('onlynet-needs-proxy', `link ${this.name}: onlynet=onion needs proxy= (Tor) to reach .onion peers`);
    await this.discover();
    await this.fill();
    // Core: fixed seeds when nothing else got us a peer (here at once, not after 60 s).
    if (this.slots.length === 0 && !this.stopped && this.addFixedSeeds('no address from the seeds could be reached')) await this.fill();
    if (this.opts.rotateMs) {
      this.rotateTimer = setInterval(() => void this.rotate(), this.opts.rotateMs);
      this.rotateTimer.unref?.();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.rotateTimer);
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((s) => s.link.stop()));
    this.saveBook();
    this.setState('stopped');
  }

  async requestHeaders(locator: Uint8Array[]): Promise<void> {
    if (this.slots.length === 0) await this.fill();
    await Promise.all(this.slots.map((s) => s.link.requestHeaders(locator)));
    await this.replaceLiars();
  }

  setContext(fromHeight: number, headers: Uint8Array[]): void {
    this.context = { fromHeight, headers };
    for (const s of this.slots) s.link.setContext(fromHeight, headers);
  }

  async fetchBlock(hash: Uint8Array): Promise<Uint8Array> {
    let last: unknown = new SourceUnavailableError('no peer connected');
    for (const s of this.slots) {
      try {
        return await s.link.fetchBlock(hash);
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  async sendTx(raw: Uint8Array): Promise<void> {
    const results = await Promise.allSettled(this.slots.map((s) => s.link.sendTx(raw)));
    if (!results.some((r) => r.status === 'fulfilled')) throw new SourceUnavailableError('no peer took the transaction');
  }

  // ------------------------------------------------------------------------------------------

  /** Whether a peer at `host` can be dialled: onion only through the proxy, only onion under onlynet=onion. */
  private reachable(host: string): boolean {
    return isOnion(host) ? this.opts.proxy !== undefined : !this.opts.onlyOnion;
  }

  private usableCount(): number {
    return this.book.all().filter((e) => !e.banned && this.reachable(e.host)).length;
  }

  /**
   * Seeds: without a proxy, the DNS seeds (A/AAAA); under a proxy, no lookup here but a one-shot
   * connection to some seeds' names through it (not under onlynet=onion: the seeds are clearnet
   * names). Then, when the book has no usable address, the fixed seeds.
   */
  private async discover(): Promise<void> {
    if (this.opts.proxy) {
      if (this.opts.seeds.length)
        this.ctx.log.info(
          this.opts.onlyOnion
            ? 'DNS seeds not asked: onlynet=onion (they are clearnet names); using onion fixed seeds and gossip'
            : 'DNS seeds not looked up here (under proxy= the lookup would leak); asking seed nodes through the proxy',
          { link: this.name },
        );
      if (!this.opts.onlyOnion) await this.fetchThroughProxy();
    } else {
      await this.resolveSeeds();
    }
    if (this.usableCount() === 0)
      this.addFixedSeeds(this.opts.proxy ? 'no usable address through the proxy yet' : 'the DNS seeds gave no usable address');
  }

  /** Adds the reachable fixed seeds to the book once per run; returns whether any was added. */
  private addFixedSeeds(why: string): boolean {
    if (this.fixedAdded) return false;
    this.fixedAdded = true;
    let added = 0;
    for (const text of this.opts.fixedSeeds ?? []) {
      let hp: HostPort;
      try {
        hp = parseHostPort(text);
      } catch {
        this.ctx.counters.inc('fixed-seeds.malformed');
        continue;
      }
      if (!this.reachable(hp.host)) continue;
      if (this.book.add(hp.host, hp.port)) added++;
    }
    this.ctx.counters.inc('fixed-seeds.added', added);
    this.ctx.log.info('using the built-in fixed seeds', { link: this.name, why, new: added, book: this.book.size });
    this.saveBook();
    return added > 0;
  }

  /**
   * Core's addrfetch under a proxy: connect to a seed's name through the proxy (which resolves
   * it to one of its nodes), take the addresses that node sends, disconnect.
   */
  private async fetchThroughProxy(): Promise<void> {
    const seeds = [...this.opts.seeds].sort(() => Math.random() - 0.5).slice(0, ADDR_FETCH_SEEDS);
    const waitMs = this.opts.addrFetchMs ?? Math.min(this.opts.timeoutMs, 15_000);
    await Promise.all(
      seeds.map(async (seed) => {
        let got: () => void = () => {};
        const heard = new Promise<void>((r) => (got = r));
        let n = 0;
        const link = new P2PLink(
          {
            name: `${this.name}/addrfetch/${seed}`,
            host: seed,
            port: this.opts.port,
            proxy: this.opts.proxy,
            v2: this.opts.v2,
            timeoutMs: this.opts.timeoutMs,
            headers: false,
            onAddr: (addrs) => {
              n += addrs.length;
              this.learn(`${seed} (through the proxy)`, addrs);
              got();
            },
          },
          { ...this.ctx, events: { headers: () => {}, tx: () => {}, state: () => {} } },
        );
        try {
          await link.start();
          if (link.peerVersion) await Promise.race([heard, new Promise((r) => setTimeout(r, waitMs).unref?.())]);
        } finally {
          await link.stop();
        }
        this.ctx.counters.inc('seed.addresses', n);
        if (n === 0) {
          this.ctx.counters.inc('seed.failures');
          this.ctx.log.warn('seed gave no addresses through the proxy', { link: this.name, seed });
        }
      }),
    );
    this.saveBook();
  }

  /** Asks every seed for A and AAAA records; each address heard goes into the book. */
  private async resolveSeeds(): Promise<void> {
    if (this.opts.seeds.length === 0) return;
    const resolver = new Resolver({ timeout: this.opts.timeoutMs, tries: 2 });
    if (this.opts.dnsServer) {
      const { host, port } = this.opts.dnsServer;
      resolver.setServers([`${net.isIPv6(host) ? `[${host}]` : host}:${port}`]);
    }
    let added = 0;
    await Promise.all(
      this.opts.seeds.map(async (seed) => {
        const answers = await Promise.allSettled([resolver.resolve4(seed), resolver.resolve6(seed)]);
        let heard = 0;
        for (const a of answers) {
          if (a.status !== 'fulfilled') continue;
          for (const ip of a.value.slice(0, 256)) {
            heard++;
            if (this.ctx.network.name !== 'regtest' && !isPublicAddress(ip)) {
              this.ctx.counters.inc('seed.unroutable');
              continue;
            }
            if (this.book.add(ip, this.opts.port)) added++;
          }
        }
        this.ctx.counters.inc('seed.addresses', heard);
        if (heard === 0) {
          this.ctx.counters.inc('seed.failures');
          const why = answers.map((a) => (a.status === 'rejected' ? String((a.reason as Error).message) : 'no records')).join('; ');
          this.ctx.log.warn('DNS seed gave no addresses', { link: this.name, seed, error: why });
        }
      }),
    );
    this.ctx.log.info('DNS seeds asked', { link: this.name, seeds: this.opts.seeds.length, new: added, book: this.book.size });
    this.saveBook();
  }

  /** Connects peers until `connections` are up or the book has no more candidates. */
  private fill(): Promise<void> {
    this.filling ??= this.doFill().finally(() => (this.filling = null));
    return this.filling;
  }

  private async doFill(): Promise<void> {
    while (!this.stopped && this.slots.length < this.opts.connections) {
      const used = new Set(this.slots.map((s) => s.group));
      const busy = new Set([...this.failed, ...this.slots.map((s) => bookKey(s.host, s.port))]);
      if (this.resting) busy.add(this.resting);
      const picks = this.book.pick(this.opts.connections - this.slots.length, used, busy, (e: BookEntry) => this.reachable(e.host));
      if (picks.length === 0) break;
      await Promise.all(
        picks.map(async (p) => {
          const slot = this.makeSlot(p.host, p.port);
          await slot.link.start();
          if (slot.link.peerVersion && !this.stopped) {
            this.book.good(p.host, p.port);
            if (this.context) slot.link.setContext(this.context.fromHeight, this.context.headers);
            this.slots.push(slot);
          } else {
            this.failed.add(bookKey(p.host, p.port));
            await slot.link.stop();
          }
        }),
      );
    }
    this.ctx.counters.set('connected', this.slots.length);
    this.ctx.log.info('peers connected', {
      link: this.name,
      peers: this.slots.map((s) => `${s.host}:${s.port}`).join(' '),
      groups: this.slots.map((s) => s.group).join(' '),
    });
    if (this.slots.length > 0)
      this.setState(
        this.slots.length < this.opts.connections ? 'degraded' : 'up',
        this.slots.length < this.opts.connections ? `${this.slots.length} of ${this.opts.connections} peers connected` : undefined,
      );
    else this.setState('down', `no peer reachable (${this.book.size} addresses known)`);
    this.saveBook();
  }

  private makeSlot(host: string, port: number): Slot {
    const peer = `${host}:${port}`;
    const ctx: LinkContext = {
      ...this.ctx,
      // One scope for all peers: counters such as lies and headers add up per link.
      events: {
        headers: (raw) => this.ctx.events.headers(raw),
        tx: (raw) => this.ctx.events.tx(raw),
        tip: (t) => this.ctx.events.tip?.(t),
        state: (s, reason) => {
          if (reason?.startsWith('marked')) queueMicrotask(() => void this.replaceLiars());
          else if (s === 'down' && reason) this.ctx.log.debug('peer state', { link: this.name, peer, state: s, reason });
        },
      },
    };
    return {
      host,
      port,
      since: Date.now(),
      group: netgroup(host),
      link: new P2PLink(
        {
          name: `${this.name}/${peer}`,
          host,
          port,
          v2: this.opts.v2,
          proxy: this.opts.proxy,
          timeoutMs: this.opts.timeoutMs,
          onAddr: (addrs) => this.learn(peer, addrs),
        },
        ctx,
      ),
    };
  }

  /** Drops the longest-connected peer and fills its place from the book (another address). */
  private async rotate(): Promise<void> {
    if (this.stopped || this.filling || this.slots.length === 0) return;
    const oldest = this.slots.reduce((a, b) => (b.since < a.since ? b : a));
    this.slots = this.slots.filter((s) => s !== oldest);
    this.ctx.counters.inc('rotated');
    this.ctx.log.info('peer rotated out', { link: this.name, peer: `${oldest.host}:${oldest.port}` });
    await oldest.link.stop();
    this.resting = bookKey(oldest.host, oldest.port);
    try {
      await this.fill();
    } finally {
      this.resting = undefined;
    }
  }

  /** Addresses a peer sent (`addr`/`addrv2`): IPv4, IPv6 and onion ones go into the book (bounded there). */
  private learn(from: string, addrs: PeerAddress[]): void {
    let added = 0;
    let unroutable = 0;
    let capped = 0;
    const before = this.learnedFrom.get(from) ?? 0;
    for (const a of addrs) {
      if (a.port === 0) continue;
      // On public networks a peer naming LAN, loopback or documentation addresses is ignored for them (as Core's addrman).
      if (this.ctx.network.name !== 'regtest' && !isPublicAddress(a.host)) {
        unroutable++;
        continue;
      }
      // One peer may not fill the book (1,000 entries) and push out what others told us.
      if (before + added >= MAX_NEW_PER_PEER) {
        capped++;
        continue;
      }
      if (this.book.add(a.host, a.port)) added++;
    }
    this.learnedFrom.set(from, before + added);
    this.ctx.counters.inc('addr.heard', addrs.length);
    this.ctx.counters.inc('addr.new', added);
    if (unroutable) this.ctx.counters.inc('addr.unroutable', unroutable);
    if (capped) this.ctx.counters.inc('addr.capped', capped);
    if (added > 0)
      this.ctx.log.info('addresses learned from a peer', {
        link: this.name,
        peer: from,
        heard: addrs.length,
        new: added,
        book: this.book.size,
      });
  }

  /** Bans every peer its P2PLink caught lying, drops it, and connects another in its place. */
  private async replaceLiars(): Promise<void> {
    const liars = this.slots.filter((s) => s.link.markedReason);
    if (liars.length === 0) return;
    this.slots = this.slots.filter((s) => !s.link.markedReason);
    for (const s of liars) {
      this.book.ban(s.host, s.port, s.link.markedReason!);
      this.ctx.counters.inc('banned');
      this.ctx.log.error('peer lied; banned in the address book and replaced', {
        link: this.name,
        peer: `${s.host}:${s.port}`,
        reason: s.link.markedReason,
      });
      await s.link.stop();
    }
    await this.fill();
  }

  private saveBook(): void {
    try {
      this.book.save();
    } catch (e) {
      this.ctx.counters.inc('book.write-failed');
      this.ctx.log.warn('could not save the address book', { link: this.name, path: this.opts.bookPath, error: (e as Error).message });
    }
  }

  private setState(s: LinkState, reason?: string): void {
    if (s === this.state && !reason) return;
    this.state = s;
    this.ctx.events.state(s, reason);
  }
}

/**
 * Config factory: `link.<name>.type=peers` with the options of PEERS_OPTIONS (options.ts).
 */
export function create(options: Record<string, string>, ctx: LinkContext): Link {
  const o = readLinkOptions(options, 'peers', 'peers', PEERS_OPTIONS);
  const dnsServer = o.hostPort('dnsserver');
  const proxy = readProxyOption(o);
  const onlyOnion = o.must('onlynet') === 'onion';
  if (onlyOnion && !proxy) throw o.error('onlynet', 'onlynet=onion needs proxy= (Tor) to reach .onion peers');
  if (dnsServer && !net.isIP(dnsServer.host)) throw o.error('dnsserver', 'the resolver must be an IP address');
  const seeds =
    o
      .string('seeds')
      ?.split(',')
      .map((s) => s.replace(/\.$/, '')) ??
    DNS_SEEDS[ctx.network.name] ??
    [];
  return new PeersLink(
    {
      name: o.name,
      connections: o.must<number>('connections'),
      seeds,
      dnsServer,
      port: o.int('port') ?? ctx.network.defaultPort,
      bookPath: o.string('book'),
      timeoutMs: o.must<number>('timeout'),
      v2: o.must('v2') === '1',
      rotateMs: o.must<number>('rotate') * 1000,
      fixedSeeds: FIXED_SEEDS[ctx.network.name as keyof typeof FIXED_SEEDS] ?? [],
      proxy,
      onlyOnion,
    },
    ctx,
  );
}
