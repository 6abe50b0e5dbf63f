// An outbound Bitcoin P2P (v1) connection to a configured internet peer, used as a header
// source: getheaders with the gateway's locator, every answer checked before it is reported
// (connects to the locator, proof of work, chained), pushed announcements followed. A peer
// caught lying is marked and not used again until restart. Framing and message codecs are the
// node side's (src/node/wire.ts, src/node/messages.ts).
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { headerHash } from '../../chain/header.js';
import { hashToHex, toHex } from '../../util/bytes.js';
import { AltnetError, MalformedInputError } from '../../util/errors.js';
import {
  decodeAddr,
  decodeHeaders,
  decodeInv,
  decodeVersion,
  encodeGetHeaders,
  encodeInv,
  encodeVersion,
  InvType,
  MAX_HEADERS_PER_MESSAGE,
  PROTOCOL_VERSION,
  type VersionMessage,
} from '../../node/messages.js';
import { V1Transport, type MessageTransport } from '../../node/transport.js';
import { decodeAddrV2, ipv6Text } from '../../node/addrv2.js';
import { MAX_MESSAGE_PAYLOAD, type P2PMessage } from '../../node/wire.js';
import { internetCapabilities, type Link, type LinkCapabilities, type LinkContext } from '../link.js';
import {
  checkHeaderRun,
  KnownHeights,
  realTimers,
  SourceGuard,
  SourceLieError,
  SourceUnavailableError,
  withTimeout,
  type Timers,
} from '../source/index.js';
import { readLinkOptions } from '../options.js';
import { dialTcp, readProxyOption } from '../source/dial.js';
import { P2P_OPTIONS } from './options.js';
import type { HostPort } from '../../util/net.js';

export const P2P_CAPABILITIES: LinkCapabilities = internetCapabilities({
  direction: 'duplex',
  // Bitcoin Core's MAX_PROTOCOL_MESSAGE_LENGTH: a block message may be up to 4 MB.
  mtu: MAX_MESSAGE_PAYLOAD,
  carries: ['headers', 'tx', 'blocks'],
});

const USER_AGENT = '/altnet:0.1.0/';
/** Oldest protocol version that answers getheaders the way we expect (headers-first, BIP130). */
const MIN_PEER_VERSION = 70012;

export interface P2PLinkOptions {
  name: string;
  host: string;
  port: number;
  timeoutMs?: number;
  /** Offer BIP324 v2 first (default), falling back to v1 for peers that do not speak it. */
  v2?: boolean;
  /** SOCKS5 proxy to connect through (the proxy resolves the peer's name). */
  proxy?: HostPort;
  timers?: Timers;
  failuresBeforeDegraded?: number;
  /** Ask this peer for headers (default); false: blocks and transactions only. */
  headers?: boolean;
  /**
   * Ask the peer for addresses (sendaddrv2, getaddr) and hand what every `addr`/`addrv2` it
   * sends names here (the peers link's book); I2P, CJDNS and retired Tor v2 are left out.
   */
  onAddr?: (addrs: PeerAddress[]) => void;
}

/** An address a peer gossiped: IPv4, IPv6 or a Tor v3 onion name. */
export interface PeerAddress {
  host: string;
  port: number;
  network: 'ipv4' | 'ipv6' | 'onion';
}

/** A 16-byte `addr` address as text: dotted IPv4 for IPv4-mapped ones, IPv6 otherwise; undefined for the unspecified address. */
export function ipBytesText(ip: Uint8Array): string | undefined {
  if (ip.length !== 16 || ip.every((b) => b === 0)) return undefined;
  const mapped = ip.subarray(0, 12).every((b, i) => b === (i >= 10 ? 0xff : 0));
  if (mapped) {
    const v4 = [...ip.subarray(12)].join('.');
    return v4 === '0.0.0.0' ? undefined : v4;
  }
  return ipv6Text(ip);
}

interface Connection {
  socket: net.Socket;
  transport: MessageTransport;
  peer: VersionMessage;
}

/** A v2 attempt the peer closed before sending a single byte: it does not speak v2 (BIP324). */
class V2RefusedError extends SourceUnavailableError {}

export class P2PLink implements Link {
  readonly name: string;
  readonly capabilities: LinkCapabilities;
  private readonly guard: SourceGuard;
  private readonly known: KnownHeights;
  private readonly timers: Timers;
  private readonly timeoutMs: number;
  private conn: Connection | null = null;
  private connecting: Promise<Connection> | null = null;
  /** Set once the peer refused v2: later connections go straight to v1. */
  private v1Only = false;
  /** The pending getheaders answer. */
  private waiter: { resolve(h: Uint8Array[]): void; reject(e: unknown): void } | null = null;
  /** Last header this link delivered; announcements that extend it are reported at once. */
  private last: Uint8Array | null = null;
  /** Blocks asked for with getdata, by hash hex. */
  private readonly blockWaiters = new Map<string, { resolve(raw: Uint8Array): void; reject(e: unknown): void }>();

  constructor(
    private readonly opts: P2PLinkOptions,
    private readonly ctx: LinkContext,
  ) {
    this.name = opts.name;
    this.capabilities =
      opts.headers === false ? { ...P2P_CAPABILITIES, carries: P2P_CAPABILITIES.carries.filter((c) => c !== 'headers') } : P2P_CAPABILITIES;
    this.timers = opts.timers ?? realTimers;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.guard = new SourceGuard(opts.name, ctx, opts.failuresBeforeDegraded);
    this.known = new KnownHeights(ctx.network);
  }

  get markedReason(): string | null {
    return this.guard.markedReason;
  }

  /** What the peer said about itself in its version message (once connected). */
  get peerVersion(): VersionMessage | undefined {
    return this.conn?.peer;
  }

  async start(): Promise<void> {
    this.guard.stopped = false;
    this.guard.setState('starting');
    try {
      await this.ensureConnected();
      this.guard.succeeded();
    } catch (e) {
      this.guard.countFailure('connect', e);
    }
  }

  async stop(): Promise<void> {
    this.guard.stopped = true;
    this.drop(new SourceUnavailableError('link stopped'));
    await this.guard.idle();
    this.guard.setState('stopped');
  }

  requestHeaders(locator: Uint8Array[]): Promise<void> {
    if (this.opts.headers === false) return Promise.resolve();
    return this.guard.run('headers request', () => this.fetchFollowing(locator));
  }

  /**
   * getdata MSG_WITNESS_BLOCK for one block; resolves with the peer's `block` payload once its
   * header hashes to the hash asked for. Several may be in flight on the one connection. A
   * `notfound` or a timeout rejects (counted; the gateway asks another source).
   */
  async fetchBlock(hash: Uint8Array): Promise<Uint8Array> {
    this.guard.refuseIfMarked();
    const c = await this.ensureConnected();
    const key = toHex(hash);
    if (this.blockWaiters.has(key)) throw new SourceUnavailableError(`block ${hashToHex(hash)} is already being fetched`);
    this.ctx.counters.inc('blocks.requested');
    const raw = await withTimeout(
      this.timers,
      this.timeoutMs,
      `getdata block ${hashToHex(hash)}`,
      () =>
        new Promise<Uint8Array>((resolve, reject) => {
          this.blockWaiters.set(key, { resolve, reject });
          this.send(c, 'getdata', encodeInv([{ type: InvType.WITNESS_BLOCK, hash }]));
        }),
      () => this.blockWaiters.delete(key),
    ).catch((e: unknown) => {
      this.ctx.counters.inc('blocks.failed');
      throw e;
    });
    this.ctx.counters.inc('blocks.received');
    this.ctx.counters.inc('blocks.bytes', raw.length);
    return raw;
  }

  /** The gateway's recent best chain: lets this link put heights on the tips it reports. */
  setContext(fromHeight: number, headers: Uint8Array[]): void {
    this.known.learnContext(fromHeight, headers);
  }

  async sendTx(raw: Uint8Array): Promise<void> {
    this.guard.refuseIfMarked();
    const c = await this.ensureConnected();
    this.send(c, 'tx', raw);
    this.ctx.counters.inc('tx.sent');
  }

  // ------------------------------------------------------------------------------------------

  private ensureConnected(): Promise<Connection> {
    if (this.guard.stopped) return Promise.reject(new SourceUnavailableError('link stopped'));
    if (this.conn) return Promise.resolve(this.conn);
    if (!this.connecting) {
      const v2 = this.opts.v2 !== false && !this.v1Only;
      this.connecting = this.connect(v2)
        .catch((e: Error) => {
          if (!(e instanceof V2RefusedError)) throw e;
          // As Bitcoin Core does: a peer that hangs up on our v2 key without a word gets v1.
          this.v1Only = true;
          this.ctx.counters.inc('v2.refused');
          this.ctx.log.info('P2P peer does not speak v2; using v1', { link: this.name, peer: `${this.opts.host}:${this.opts.port}` });
          return this.connect(false);
        })
        .finally(() => {
          this.connecting = null;
        });
    }
    return this.connecting;
  }

  private async connect(v2: boolean): Promise<Connection> {
    const { host, port } = this.opts;
    const magic = this.ctx.network.magic;
    // BIP324 (its session, packet cipher, and the curve and cipher libraries under them) is
    // loaded on the first v2 attempt: with v2=0 the driver process never holds it (the bundled
    // chunk measured +0.63-0.69 MB of anonymous memory when loaded in a jitless Node; issue 18).
    const transport: MessageTransport = v2
      ? new (await import('../../node/v2/transport.js')).V2Transport({
          magic,
          role: 'initiator',
          counters: this.ctx.counters.scoped('v2.'),
        })
      : new V1Transport(magic);
    let heardBack = false;
    let socket: net.Socket | undefined;
    let abandoned = false;
    return withTimeout(
      this.timers,
      this.timeoutMs,
      `P2P handshake with ${host}:${port}`,
      () =>
        new Promise<Connection>((resolve, reject) => {
          let peer: VersionMessage | undefined;
          let gotVerack = false;
          dialTcp({ host, port, proxy: this.opts.proxy, timeoutMs: this.timeoutMs }).then(
            (s) => handshake(s),
            (e: Error) => reject(new SourceUnavailableError(`P2P ${host}:${port}: ${e.message}`, { cause: e })),
          );
          const handshake = (s: net.Socket): void => {
            if (abandoned) return void s.destroy();
            socket = s;
            const fail = (e: Error) => {
              s.destroy();
              reject(e instanceof AltnetError ? e : new SourceUnavailableError(`P2P ${host}:${port}: ${e.message}`, { cause: e }));
            };
            s.setNoDelay(true);
            s.once('error', fail);
            s.once('close', () =>
              fail(
                v2 && !heardBack
                  ? new V2RefusedError(`P2P ${host}:${port} closed the connection on our v2 handshake`)
                  : new SourceUnavailableError(`P2P ${host}:${port} closed the connection during the handshake`),
              ),
            );
            for (const b of transport.start()) s.write(b);
            // v2 holds this until its handshake is done, then sends it first.
            s.write(transport.encode({ command: 'version', payload: encodeVersion(this.ourVersion()) }));
            const onData = (chunk: Buffer) => {
              heardBack = true;
              let messages: P2PMessage[];
              try {
                const r = transport.receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
                for (const b of r.send) s.write(b);
                messages = r.messages;
              } catch (e) {
                fail(e as Error);
                return;
              }
              for (const m of messages) {
                if (m.command === 'version' && !peer) {
                  try {
                    peer = decodeVersion(m.payload);
                  } catch (e) {
                    return fail(e as Error);
                  }
                  if (peer.version < MIN_PEER_VERSION) {
                    return fail(new SourceUnavailableError(`P2P ${host}:${port} speaks protocol ${peer.version}, too old for headers`));
                  }
                  // BIP155: sendaddrv2 goes between version and verack; then the peer gossips
                  // addrv2 (Tor v3 included) instead of addr.
                  if (this.opts.onAddr) s.write(transport.encode({ command: 'sendaddrv2', payload: new Uint8Array(0) }));
                  s.write(transport.encode({ command: 'verack', payload: new Uint8Array(0) }));
                } else if (m.command === 'verack') {
                  gotVerack = true;
                } else if (m.command === 'ping') {
                  s.write(transport.encode({ command: 'pong', payload: m.payload }));
                }
                if (peer && gotVerack) {
                  s.removeListener('data', onData);
                  s.removeAllListeners('error');
                  s.removeAllListeners('close');
                  const c: Connection = { socket: s, transport, peer };
                  this.attach(c);
                  // Announce new blocks to us as headers (BIP130), so we can follow the tip.
                  this.send(c, 'sendheaders', new Uint8Array(0));
                  if (this.opts.onAddr) this.send(c, 'getaddr', new Uint8Array(0));
                  this.ctx.log.info('P2P peer connected', {
                    link: this.name,
                    peer: `${host}:${port}`,
                    agent: peer.userAgent,
                    version: peer.version,
                    transport: transport.kind,
                  });
                  resolve(c);
                  return;
                }
              }
            };
            s.on('data', onData);
          };
        }),
      () => {
        abandoned = true;
        socket?.destroy();
      },
    );
  }

  private ourVersion(): VersionMessage {
    const none = { services: 0n, ip: new Uint8Array(16), port: 0 };
    return {
      version: PROTOCOL_VERSION,
      services: 0n,
      timestamp: BigInt(Math.floor(Date.now() / 1000)),
      addrRecv: none,
      addrFrom: none,
      nonce: randomBytes(8).readBigUInt64LE(),
      userAgent: USER_AGENT,
      startHeight: 0,
      // We do not want the peer's transaction relay: headers are all this link is for.
      relay: false,
    };
  }

  private attach(c: Connection): void {
    this.conn = c;
    c.socket.on('data', (chunk: Buffer) => {
      let messages: P2PMessage[];
      try {
        const r = c.transport.receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
        for (const b of r.send) c.socket.write(b);
        messages = r.messages;
      } catch (e) {
        this.ctx.counters.inc('bad-answers');
        this.ctx.log.warn('malformed P2P data; disconnecting', { link: this.name, error: (e as Error).message });
        this.drop(e as Error);
        return;
      }
      for (const m of messages) this.onMessage(c, m);
    });
    c.socket.on('error', (e) => this.drop(new SourceUnavailableError(`P2P connection: ${e.message}`)));
    c.socket.on('close', () => this.drop(new SourceUnavailableError('P2P peer closed the connection')));
  }

  private send(c: Connection, command: string, payload: Uint8Array): void {
    c.socket.write(c.transport.encode({ command, payload }));
  }

  private drop(e: Error): void {
    const c = this.conn;
    this.conn = null;
    if (c) {
      c.socket.removeAllListeners('data');
      c.socket.removeAllListeners('close');
      c.socket.on('error', () => {});
      c.socket.destroy();
    }
    const w = this.waiter;
    this.waiter = null;
    w?.reject(e);
    const blocks = [...this.blockWaiters.values()];
    this.blockWaiters.clear();
    for (const b of blocks) b.reject(e);
  }

  private onMessage(c: Connection, m: P2PMessage): void {
    switch (m.command) {
      case 'ping':
        this.send(c, 'pong', m.payload);
        return;
      case 'headers': {
        let headers: Uint8Array[];
        try {
          // Views of one copy: the driver hands them on over IPC and drops them (decodeHeaders).
          headers = decodeHeaders(m.payload, true);
        } catch (e) {
          this.ctx.counters.inc('bad-answers');
          this.drop(e as Error);
          return;
        }
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w.resolve(headers);
        } else if (headers.length > 0) {
          void this.guard.run('header announcement', () => this.onAnnouncement(headers));
        }
        return;
      }
      case 'block': {
        if (m.payload.length < 80) {
          this.ctx.counters.inc('bad-answers');
          return;
        }
        const key = toHex(headerHash(m.payload.subarray(0, 80)));
        const w = this.blockWaiters.get(key);
        if (!w) {
          this.ctx.counters.inc('blocks.unrequested');
          return;
        }
        this.blockWaiters.delete(key);
        // The payload may view a larger receive buffer: keep only the block's own bytes.
        w.resolve(m.payload.byteOffset === 0 && m.payload.byteLength === m.payload.buffer.byteLength ? m.payload : m.payload.slice());
        return;
      }
      case 'notfound': {
        let items;
        try {
          items = decodeInv(m.payload, 'notfound');
        } catch {
          this.ctx.counters.inc('bad-answers');
          return;
        }
        for (const it of items) {
          const key = toHex(it.hash);
          const w = this.blockWaiters.get(key);
          if (!w) continue;
          this.blockWaiters.delete(key);
          this.ctx.counters.inc('blocks.notfound');
          w.reject(new SourceUnavailableError(`the peer does not have block ${hashToHex(it.hash)} (notfound)`));
        }
        return;
      }
      case 'inv': {
        let blocks = false;
        try {
          blocks = decodeInv(m.payload, 'inv').some((i) => i.type === InvType.BLOCK);
        } catch {
          this.ctx.counters.inc('bad-answers');
          return;
        }
        // A peer that announces blocks by inv: ask for the headers after what we delivered.
        if (blocks && this.last) void this.requestHeaders(this.ownLocator());
        return;
      }
      case 'addr':
      case 'addrv2': {
        if (!this.opts.onAddr) return;
        let heard: PeerAddress[];
        try {
          if (m.command === 'addr') {
            heard = [];
            for (const a of decodeAddr(m.payload)) {
              const host = ipBytesText(a.ip);
              if (host) heard.push({ host, port: a.port, network: host.includes(':') ? 'ipv6' : 'ipv4' });
            }
          } else {
            const d = decodeAddrV2(m.payload);
            heard = d.addresses.map(({ host, port, network }) => ({ host, port, network }));
            const skipped = Object.values(d.skipped).reduce((x, y) => x + y, 0);
            if (skipped) this.ctx.counters.inc('addrv2.skipped', skipped);
          }
        } catch (e) {
          // Bounds broken (over 1,000 entries, an address over 512 bytes or of the wrong length):
          // the whole message is dropped, counted, and said once per message.
          this.ctx.counters.inc('addr.malformed');
          this.ctx.log.warn('peer sent a malformed address message; ignored', {
            link: this.name,
            command: m.command,
            error: (e as Error).message,
          });
          return;
        }
        this.opts.onAddr(heard);
        return;
      }
      default:
        return; // feefilter, sendcmpct, getheaders...: not this link's business
    }
  }

  /** A locator from what this link knows: its last delivered header, checkpoints, genesis. */
  private ownLocator(): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (this.last) out.push(this.last);
    for (const cp of [...this.ctx.network.checkpoints].reverse()) out.push(cp.hash);
    out.push(headerHash(this.ctx.network.genesisHeader));
    return out;
  }

  private async getHeaders(locator: Uint8Array[]): Promise<Uint8Array[]> {
    const c = await this.ensureConnected();
    return withTimeout(
      this.timers,
      this.timeoutMs,
      'getheaders',
      () =>
        new Promise<Uint8Array[]>((resolve, reject) => {
          this.waiter = { resolve, reject };
          this.send(c, 'getheaders', encodeGetHeaders({ version: PROTOCOL_VERSION, locator, stopHash: new Uint8Array(32) }));
        }),
      () => {
        this.waiter = null;
        // An unanswered getheaders leaves the stream in an unknown state: start afresh next time.
        this.drop(new SourceUnavailableError('getheaders timed out'));
      },
    );
  }

  private async fetchFollowing(locator: Uint8Array[]): Promise<void> {
    if (locator.length === 0) throw new MalformedInputError('p2p-empty-locator', 'requestHeaders needs a locator');
    const headers = await this.getHeaders(locator.slice(0, 101));
    if (headers.length === 0) {
      this.ctx.counters.inc('headers.none-new');
      return;
    }
    const prev = headers[0].subarray(4, 36);
    // A getheaders answer starts right after a locator entry (or after genesis when none matched).
    const inLocator = locator.some((h) => h.length === 32 && Buffer.compare(Buffer.from(h), Buffer.from(prev)) === 0);
    if (!inLocator && this.known.anchor(prev) !== 0) {
      throw new SourceLieError('disconnected', `answer to getheaders starts after ${hashToHex(prev)}, which is not in the locator`);
    }
    this.deliver(headers, prev);
  }

  private async onAnnouncement(headers: Uint8Array[]): Promise<void> {
    const prev = headers[0].subarray(4, 36);
    if (this.last && Buffer.compare(Buffer.from(this.last), Buffer.from(prev)) === 0) {
      this.deliver(headers, prev);
      return;
    }
    // Does not extend what we delivered (we are behind, or the peer reorganised): ask properly.
    if (this.last) await this.fetchFollowing(this.ownLocator());
  }

  /** Validates a run that follows `prev`, then reports it (and the tip, when the run ends it). */
  private deliver(headers: Uint8Array[], prev: Uint8Array): void {
    const check = checkHeaderRun(headers, prev, this.ctx.network.powLimit);
    if (!check.ok) throw new SourceLieError(check.kind, `header ${check.index} of the peer's answer: ${check.reason}`);
    const base = this.known.heightOf(prev);
    if (base !== undefined) check.hashes.forEach((h, i) => this.known.remember(base + 1 + i, h));
    this.last = check.hashes[check.hashes.length - 1];
    this.ctx.counters.inc('headers', headers.length);
    this.ctx.events.headers(headers);
    // Fewer than a full message means the peer has nothing after these: its tip.
    if (headers.length < MAX_HEADERS_PER_MESSAGE && base !== undefined) {
      this.ctx.events.tip?.({ height: base + headers.length, hash: this.last });
    }
  }
}

/**
 * Config factory: `link.<name>.type=p2p` with the options of P2P_OPTIONS (options.ts): the peer
 * is one the operator chooses, never a built-in list; v2=1 tries BIP324 first and falls back to
 * v1 when the peer hangs up on it; headers=0 uses the peer for blocks (and transactions) only.
 */
export function create(options: Record<string, string>, ctx: LinkContext): Link {
  const o = readLinkOptions(options, 'p2p', 'p2p', P2P_OPTIONS);
  const { host, port } = o.must<HostPort>('peer');
  return new P2PLink(
    {
      name: o.name,
      host,
      port,
      proxy: readProxyOption(o),
      v2: o.must('v2') === '1',
      headers: o.must('headers') === '1',
      timeoutMs: o.must<number>('timeout'),
    },
    ctx,
  );
}
