// One P2P connection with the user's node. altnet is the inbound side: the node dials it
// (`addnode=127.0.0.1:8334`), sends `version`, and we answer the way Bitcoin Core expects.
// Everything the node sends is parsed strictly; a malformed message is logged, counted and
// ends the connection (the node reconnects), and never throws out of this class.
// Any local process can dial the same port, so a connection must earn its slot: it has
// `limits.handshakeMs` to finish the handshake, a message it starts must keep arriving at
// `limits.minByteRate` (after `limits.messageGraceMs`), and it must ask for something (a ping,
// getheaders, getdata...) within `limits.firstRequestMs` of the handshake, as Bitcoin Core does
// right away. Breaking a limit is an eviction: logged, counted as node.evicted.<reason>.
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { NetworkParams } from '../chain/networks.js';
import type { Logger } from '../util/log.js';
import type { Counters } from '../util/counters.js';
import { AltnetError, MalformedInputError } from '../util/errors.js';
import { concatBytes, hashToHex } from '../util/bytes.js';
import {
  decodeGetHeaders,
  decodeHeaders,
  decodeInv,
  decodeNonce,
  decodeVersion,
  encodeGetHeaders,
  encodeHeaders,
  encodeInv,
  encodeNonce,
  encodeVersion,
  InvType,
  ipv4Mapped,
  MAX_HEADERS_PER_MESSAGE,
  PROTOCOL_VERSION,
  type InvItem,
  type VersionMessage,
} from './messages.js';
import type { P2PMessage } from './wire.js';
import { V1Transport, type MessageTransport } from './transport.js';
import { detectTransport } from './v2/detect.js';

export const USER_AGENT = '/altnet:0.1.0/';
const MIN_PEER_VERSION = 70015;

/** Deadlines that keep a slot from being held by a connection that does nothing useful. */
export interface NodePeerLimits {
  /** From connect to verack. */
  handshakeMs: number;
  /** A message in progress may take this long before its byte rate is held against it. */
  messageGraceMs: number;
  /** Bytes per second a started message must arrive at, after the grace (loopback is far faster). */
  minByteRate: number;
  /** After the handshake, the peer must ask for something (ping, getheaders...) within this. */
  firstRequestMs: number;
}

/**
 * Core pings right after the handshake and answers our getheaders at once, so 30 s is generous;
 * 10 kB/s is a floor a loaded Raspberry Pi beats by orders of magnitude on loopback, and drops a
 * byte-a-second trickle within ~5 s instead of holding a slot for the hours a 4 MB message takes.
 */
export const DEFAULT_PEER_LIMITS: NodePeerLimits = {
  handshakeMs: 20_000,
  messageGraceMs: 5_000,
  minByteRate: 10_000,
  firstRequestMs: 30_000,
};

export type EvictReason = 'handshake_timeout' | 'slow_message' | 'no_request' | 'at_cap';

/** Messages that ask altnet for something or tell it about the chain: proof a peer is in use. */
const ASKING = new Set(['ping', 'getheaders', 'getdata', 'getaddr', 'getblocks', 'mempool', 'headers', 'inv', 'tx', 'block']);

/** What the node side needs from the header chain. */
export interface HeaderView {
  readonly height: number;
  locator(): Uint8Array[];
  headersAfter(locator: Uint8Array[], stopHash: Uint8Array | undefined, max: number): Uint8Array[];
}

/** Blocks and transactions altnet holds and may serve on `getdata`. */
export interface ObjectStore {
  getBlock(hash: Uint8Array): Uint8Array | undefined;
  getTx(hash: Uint8Array): Uint8Array | undefined;
}

export interface NodePeerEvents {
  /** Handshake done; the node can now be sent headers. */
  ready(peer: NodePeer): void;
  /** Headers the node sent (its announcements, or answers to our getheaders). */
  headers(peer: NodePeer, raw: Uint8Array[]): void;
  /** The node asked us for headers: locator[0] is its best header. */
  getheaders(peer: NodePeer, locator: Uint8Array[]): void;
  /** The node announced blocks or transactions. */
  inv(peer: NodePeer, items: InvItem[]): void;
  /** A transaction the node sent (an answer to requestTx: it is in the node's mempool). */
  tx?(peer: NodePeer, raw: Uint8Array): void;
  closed(peer: NodePeer, reason: string): void;
}

/**
 * Builds a BIP324 responder transport; absent until v2 support is plugged in. It may resolve
 * later (the daemon loads BIP324 on the first v2 connection): the bytes arriving meanwhile wait.
 */
export type V2ResponderFactory = () => MessageTransport | Promise<MessageTransport>;

export interface NodePeerDeps {
  network: NetworkParams;
  log: Logger;
  counters: Counters;
  chain: HeaderView;
  objects?: ObjectStore;
  events: NodePeerEvents;
  v2Responder?: V2ResponderFactory;
  now?: () => number;
  limits?: Partial<NodePeerLimits>;
}

/** Bytes a v2 connection may send while its responder is being built (node/server.ts loads BIP324 then). */
const MAX_V2_EARLY_BYTES = 64 * 1024;

type PeerState = 'detecting' | 'awaiting-version' | 'awaiting-verack' | 'ready' | 'closed';

export class NodePeer {
  readonly id: string;
  private state: PeerState = 'detecting';
  private transport: MessageTransport | undefined;
  private prefix = new Uint8Array(0);
  /** Bytes received while the v2 responder is being built (V2ResponderFactory resolving later). */
  private waiting: Uint8Array[] | undefined;
  private readonly ourNonce = randomBytes(8).readBigUInt64LE();
  private handshakeTimer: NodeJS.Timeout | undefined;
  private requestTimer: NodeJS.Timeout | undefined;
  private slowTimer: NodeJS.Timeout | undefined;
  private theirVersion: VersionMessage | undefined;
  private readonly limits: NodePeerLimits;
  /** When the incomplete message now buffered started, and bytes received since. */
  private msgStart: number | undefined;
  private msgBytes = 0;
  /** ms since the epoch (deps.now). */
  readonly connectedAt: number;
  /** Last time the peer made progress: connected, finished the handshake, or asked for something. */
  lastProgressAt: number;
  /** Whether it ever asked for anything after the handshake. */
  hasAsked = false;
  /** Last time it told us headers that extended our best chain (0: never); set by the router. */
  lastNovelAt = 0;
  /** Identified as the user's node (its own RPC lists this connection); never evicted. */
  isNode = false;
  /** Endpoint as the node's getpeerinfo writes it (`addrbind`): IPv4 without the ::ffff: prefix. */
  readonly endpoint: string;

  constructor(
    private readonly socket: Socket,
    private readonly deps: NodePeerDeps,
  ) {
    this.id = `${socket.remoteAddress}:${socket.remotePort}`;
    const addr = (socket.remoteAddress ?? '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
    this.endpoint = addr.includes(':') ? `[${addr}]:${socket.remotePort}` : `${addr}:${socket.remotePort}`;
    this.limits = { ...DEFAULT_PEER_LIMITS, ...deps.limits };
    this.connectedAt = this.now();
    this.lastProgressAt = this.connectedAt;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('connection closed by the node'));
    this.handshakeTimer = setTimeout(
      () => this.evict('handshake_timeout', `handshake not finished within ${this.limits.handshakeMs} ms`),
      this.limits.handshakeMs,
    );
    this.handshakeTimer.unref();
    deps.counters.inc('node.connections');
    deps.log.info('node connected', { peer: this.id });
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get isReady(): boolean {
    return this.state === 'ready';
  }

  get transportKind(): 'v1' | 'v2' | undefined {
    return this.transport?.kind;
  }

  get version(): VersionMessage | undefined {
    return this.theirVersion;
  }

  /** Bytes written to the node and not yet taken by the kernel (block delivery paces on it). */
  get sendBacklog(): number {
    return this.socket.writableLength;
  }

  /** Push headers unsolicited (BIP130 style), in messages of at most MAX_HEADERS_PER_MESSAGE. */
  sendHeaders(raw: Uint8Array[]): void {
    for (let i = 0; i < raw.length; i += MAX_HEADERS_PER_MESSAGE) {
      this.send('headers', encodeHeaders(raw.slice(i, i + MAX_HEADERS_PER_MESSAGE)));
    }
    this.deps.counters.inc('node.headers_sent', raw.length);
  }

  /** Ask the node for headers after our locator: its answer tells us its best chain. */
  requestHeaders(locator: Uint8Array[]): void {
    this.send('getheaders', encodeGetHeaders({ version: PROTOCOL_VERSION, locator, stopHash: new Uint8Array(32) }));
  }

  sendBlock(raw: Uint8Array): void {
    this.send('block', raw);
    this.deps.counters.inc('node.blocks_sent');
  }

  sendTx(raw: Uint8Array): void {
    this.send('tx', raw);
    this.deps.counters.inc('node.tx_sent');
  }

  /**
   * Asks the node for transactions by txid (internal order): Core answers with `tx` for each one
   * in its mempool since before its last inv round to us (FindTxForGetData), `notfound` otherwise.
   * That is how a gateway learns its node accepted a transaction we gave it, which Core never
   * announces back to the peer it came from.
   */
  requestTx(txids: Uint8Array[]): void {
    if (txids.length === 0) return;
    this.send('getdata', encodeInv(txids.map((hash) => ({ type: InvType.TX, hash }))));
    this.deps.counters.inc('node.tx_requested', txids.length);
  }

  /** Drops the connection for breaking a slot rule (or to make room): counted and logged. */
  evict(reason: EvictReason, detail: string): void {
    if (this.state === 'closed') return;
    this.deps.counters.inc(`node.evicted.${reason}`);
    this.deps.log.warn('evicting a node-port connection', { peer: this.id, reason, detail });
    this.close(`evicted (${reason}): ${detail}`);
  }

  close(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.requestTimer);
    clearTimeout(this.slowTimer);
    this.socket.destroy();
    this.deps.log.info('node disconnected', { peer: this.id, reason });
    this.deps.events.closed(this, reason);
  }

  private send(command: string, payload: Uint8Array): void {
    if (this.state === 'closed' || !this.transport) return;
    this.socket.write(this.transport.encode({ command, payload }));
    this.deps.counters.inc(`node.msg_out.${command}`);
  }

  private onData(chunk: Uint8Array): void {
    if (this.state === 'closed') return;
    if (this.waiting) {
      // A v2 initiator sends at most its key, 4,095 bytes of garbage and a few packets before our key.
      this.waiting.push(chunk.slice());
      if (this.waiting.reduce((n, b) => n + b.length, 0) > MAX_V2_EARLY_BYTES) this.close('v2: too many bytes before our key');
      return;
    }
    try {
      if (!this.transport) {
        chunk = this.detectTransport(chunk);
        if (!this.transport) return;
      }
      const { send, messages } = this.transport.receive(chunk);
      for (const bytes of send) this.socket.write(bytes);
      for (const msg of messages) {
        if (this.isClosed) return;
        this.deps.counters.inc(`node.msg_in.${msg.command}`);
        this.onMessage(msg);
      }
      if (!this.isClosed) this.watchMessageRate(chunk.length);
    } catch (err) {
      const code = err instanceof AltnetError ? err.code : 'internal';
      this.deps.counters.inc(`node.errors.${code}`);
      this.close(`bad message from node: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /**
   * A started message must keep coming: after messageGraceMs, the bytes received since it began
   * must keep up with minByteRate, or the peer is dropped when it falls behind (one timer, moved
   * on each chunk). The handshake has its own deadline.
   */
  private watchMessageRate(received: number): void {
    if (this.state !== 'ready' || !this.transport) return;
    clearTimeout(this.slowTimer);
    this.slowTimer = undefined;
    const pending = this.transport.pending;
    if (pending === 0) {
      this.msgStart = undefined;
      this.msgBytes = 0;
      return;
    }
    if (this.msgStart === undefined) {
      this.msgStart = this.now();
      this.msgBytes = pending;
    } else {
      this.msgBytes += received;
    }
    const { messageGraceMs, minByteRate } = this.limits;
    const due = this.msgStart + messageGraceMs + (this.msgBytes / minByteRate) * 1000;
    this.slowTimer = setTimeout(
      () => {
        const ms = this.now() - (this.msgStart ?? this.now());
        this.evict(
          'slow_message',
          `a message in progress got ${this.msgBytes} bytes in ${ms} ms (floor: ${minByteRate} B/s after ${messageGraceMs} ms)`,
        );
      },
      Math.max(0, due - this.now()),
    );
    this.slowTimer.unref();
  }

  /** BIP324: the first 16 bytes tell v1 from v2. Returns the bytes left for the chosen transport. */
  private detectTransport(chunk: Uint8Array): Uint8Array {
    const joined = new Uint8Array(this.prefix.length + chunk.length);
    joined.set(this.prefix);
    joined.set(chunk, this.prefix.length);
    const kind = detectTransport(this.deps.network.magic, joined);
    if (kind === 'undecided') {
      this.prefix = joined;
      return new Uint8Array(0);
    }
    this.prefix = new Uint8Array(0);
    if (kind === 'v1') {
      this.transport = new V1Transport(this.deps.network.magic);
    } else if (this.deps.v2Responder) {
      const made = this.deps.v2Responder();
      if (made instanceof Promise) {
        this.waiting = [joined];
        made.then(
          (transport) => this.startV2(transport),
          (err: unknown) => this.close(`v2 transport unavailable: ${err instanceof Error ? err.message : String(err)}`),
        );
        return new Uint8Array(0);
      }
      this.startV2(made, false);
    } else {
      // Closing before we send anything makes Bitcoin Core retry the connection as v1.
      this.deps.counters.inc('node.v2_refused');
      throw new MalformedInputError(
        'p2p-v2-unsupported',
        'the node opened a BIP324 v2 connection; v2 is not enabled, so it will retry with v1',
      );
    }
    this.chosen();
    return joined;
  }

  private chosen(): void {
    this.state = 'awaiting-version';
    this.deps.log.debug('transport chosen', { peer: this.id, transport: this.transport!.kind });
  }

  /** Speaks v2 from now on; `later`: built after the first bytes came, which wait in `waiting`. */
  private startV2(transport: MessageTransport, later = true): void {
    if (this.state === 'closed') return;
    this.transport = transport;
    for (const bytes of transport.start()) this.socket.write(bytes);
    if (!later) return;
    this.chosen();
    const waiting = concatBytes(...(this.waiting ?? []));
    this.waiting = undefined;
    this.onData(waiting);
  }

  private onMessage(msg: P2PMessage): void {
    if (this.state === 'awaiting-version') {
      if (msg.command !== 'version') {
        throw new MalformedInputError('p2p-no-version', `"${msg.command}" before version`);
      }
      this.onVersion(decodeVersion(msg.payload));
      return;
    }
    if (this.state === 'awaiting-verack') {
      switch (msg.command) {
        case 'verack':
          this.onVerack();
          return;
        case 'wtxidrelay':
        case 'sendaddrv2':
        case 'sendtxrcncl':
          return; // feature negotiation; we relay no addresses and do no reconciliation
        default:
          // Core ignores other messages before verack; so do we.
          this.deps.counters.inc('node.ignored_before_verack');
          return;
      }
    }
    if (ASKING.has(msg.command)) {
      this.hasAsked = true;
      this.lastProgressAt = this.now();
      clearTimeout(this.requestTimer);
    }
    this.onReadyMessage(msg);
  }

  private onVersion(v: VersionMessage): void {
    if (v.version < MIN_PEER_VERSION) {
      throw new MalformedInputError('p2p-old-version', `node speaks protocol ${v.version}; altnet needs ${MIN_PEER_VERSION} or newer`);
    }
    if (v.nonce === this.ourNonce) throw new MalformedInputError('p2p-self-connection', 'connected to ourselves');
    this.theirVersion = v;
    const now = BigInt(Math.floor((this.deps.now?.() ?? Date.now()) / 1000));
    const ourVersion: VersionMessage = {
      version: PROTOCOL_VERSION,
      // No service bits: altnet serves no blocks. Bitcoin Core fetches blocks only from peers
      // with NODE_NETWORK(_LIMITED), or, right after they announce headers, from peers with
      // NODE_WITNESS; it would then wait on our `notfound` and drop us ~10 minutes later for
      // stalling. Headers, blocks and transactions we push are accepted regardless.
      services: 0n,
      timestamp: now,
      addrRecv: { services: v.services, ip: ipv4Mapped(127, 0, 0, 1), port: this.socket.remotePort ?? 0 },
      addrFrom: { services: 0n, ip: ipv4Mapped(0, 0, 0, 0), port: 0 },
      nonce: this.ourNonce,
      userAgent: USER_AGENT,
      startHeight: this.deps.chain.height,
      relay: true,
    };
    this.send('version', encodeVersion(ourVersion));
    // BIP339 and BIP155 negotiation must sit between version and verack.
    this.send('wtxidrelay', new Uint8Array(0));
    this.send('sendaddrv2', new Uint8Array(0));
    this.send('verack', new Uint8Array(0));
    this.state = 'awaiting-verack';
    this.deps.log.debug('node version', { peer: this.id, version: v.version, agent: v.userAgent, height: v.startHeight });
  }

  private onVerack(): void {
    this.state = 'ready';
    clearTimeout(this.handshakeTimer);
    this.lastProgressAt = this.now();
    this.requestTimer = setTimeout(() => {
      if (!this.hasAsked) this.evict('no_request', `asked for nothing within ${this.limits.firstRequestMs} ms of the handshake`);
    }, this.limits.firstRequestMs);
    this.requestTimer.unref();
    this.send('sendheaders', new Uint8Array(0));
    this.requestHeaders(this.deps.chain.locator());
    this.deps.log.info('handshake complete', {
      peer: this.id,
      agent: this.theirVersion?.userAgent,
      height: this.theirVersion?.startHeight,
      transport: this.transport?.kind,
    });
    this.deps.events.ready(this);
  }

  private onReadyMessage(msg: P2PMessage): void {
    const { events } = this.deps;
    switch (msg.command) {
      case 'ping':
        this.send('pong', encodeNonce(decodeNonce(msg.payload, 'ping')));
        return;
      case 'pong':
        decodeNonce(msg.payload, 'pong');
        return;
      case 'sendheaders':
        return; // we announce by headers to every node anyway
      case 'headers':
        events.headers(this, decodeHeaders(msg.payload));
        return;
      case 'getheaders': {
        const req = decodeGetHeaders(msg.payload);
        events.getheaders(this, req.locator);
        const stop = req.stopHash.some((b) => b !== 0) ? req.stopHash : undefined;
        const answer = this.deps.chain.headersAfter(req.locator, stop, MAX_HEADERS_PER_MESSAGE);
        this.send('headers', encodeHeaders(answer));
        return;
      }
      case 'inv':
        events.inv(this, decodeInv(msg.payload, 'inv'));
        return;
      case 'getdata':
        this.onGetData(decodeInv(msg.payload, 'getdata'));
        return;
      case 'notfound':
        decodeInv(msg.payload, 'notfound');
        return;
      case 'tx':
        this.deps.counters.inc('node.tx_received');
        events.tx?.(this, msg.payload);
        return;
      default:
        // feefilter, sendcmpct, addr, addrv2, getaddr, mempool... and commands from the
        // future: ignored, as Core ignores unknown messages.
        return;
    }
  }

  private onGetData(items: InvItem[]): void {
    const missing: InvItem[] = [];
    for (const it of items) {
      const type = it.type & 0x3fffffff;
      let found: Uint8Array | undefined;
      if (type === InvType.BLOCK) found = this.deps.objects?.getBlock(it.hash);
      else if (type === InvType.TX || type === InvType.WTX) found = this.deps.objects?.getTx(it.hash);
      if (found) this.send(type === InvType.BLOCK ? 'block' : 'tx', found);
      else missing.push(it);
    }
    if (missing.length) {
      this.send('notfound', encodeInv(missing));
      this.deps.log.debug('notfound', { peer: this.id, count: missing.length, first: hashToHex(missing[0].hash) });
    }
  }
}
