// The TCP listener the node dials (`addnode=127.0.0.1:8334`). It accepts a small, bounded
// number of connections, each handled by a NodePeer. Any local process can dial the port too,
// so a connection arriving at the cap evicts the least useful peer that is not the node (as
// Bitcoin Core's inbound eviction does), and the node always gets in:
//  - never evicted: the node itself, once identified through its own RPC (`nodeConnections`:
//    its getpeerinfo lists an outbound connection to our port from this endpoint);
//  - evicted first: peers that never asked for anything, the one idle longest first;
//  - then peers that asked, those that never told us new headers first, idle longest first.
// Silent squatters thus always make room for the node, which pings as soon as it is connected.
import { createServer, type Server, type Socket } from 'node:net';
import { isLoopback } from '../util/net.js';
import { ConfigError } from '../util/errors.js';
import { NodePeer, type NodePeerDeps, type NodePeerEvents } from './peer.js';

export interface NodeServerOptions extends Omit<NodePeerDeps, 'events'> {
  host: string;
  port: number;
  /** Listening beyond loopback exposes the peer port; refused unless asked for. */
  allowRemote?: boolean;
  maxConnections?: number;
  /** Answer BIP324 v2 connections (default). With false, v2 is refused and the node retries v1. */
  v2?: boolean;
  events: NodePeerEvents;
  /**
   * The endpoints (`ip:port`, as the node's getpeerinfo `addrbind` writes them) from which the
   * node's outbound connections to `listenPort` come; from the node's RPC. Optional.
   */
  nodeConnections?: (listenPort: number) => Promise<string[]>;
}

/** Fewest slots: one for the node and one for anything else. */
export const MIN_NODE_CONNECTIONS = 2;

export class NodeServer {
  private server: Server | undefined;
  private readonly peers = new Set<NodePeer>();
  private port = 0;
  private identifying = false;
  private identifyAgain = false;
  private rpcFailing = false;

  constructor(private readonly opts: NodeServerOptions) {
    if (!opts.allowRemote && !isLoopback(opts.host)) {
      throw new ConfigError(
        'listen-not-loopback',
        `refusing to listen on ${opts.host}: the node peer port is for the local node; use a loopback address or set allowremote=1`,
      );
    }
  }

  /** Resolves with the bound port (useful with port 0). */
  async listen(): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.opts.log.error('node listener error', { error: err.message }));
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.opts.port;
    this.port = port;
    this.opts.log.info('listening for the node', { address: `${this.opts.host}:${port}` });
    return port;
  }

  /** Connected peers that completed the handshake, the identified node first. */
  readyPeers(): NodePeer[] {
    return [...this.peers].filter((p) => p.isReady).sort((a, b) => Number(b.isNode) - Number(a.isNode));
  }

  /** Every open connection, in handshake or not. */
  allPeers(): NodePeer[] {
    return [...this.peers];
  }

  /**
   * Asks the node's RPC which connection is the node's; one question at a time, one more if
   * connections arrived meanwhile. A failing RPC is logged once per failure streak.
   */
  identify(): void {
    const ask = this.opts.nodeConnections;
    if (!ask || this.port === 0) return;
    if (this.identifying) {
      this.identifyAgain = true;
      return;
    }
    this.identifying = true;
    this.identifyAgain = false;
    ask(this.port)
      .then((endpoints) => {
        if (this.rpcFailing) this.opts.log.info('node RPC answers again');
        this.rpcFailing = false;
        const set = new Set(endpoints);
        for (const p of this.peers) {
          if (p.isNode || !set.has(p.endpoint)) continue;
          p.isNode = true;
          this.opts.counters.inc('node.identified');
          this.opts.log.info("identified the node's connection through its RPC", { peer: p.id });
        }
      })
      .catch((err: Error) => {
        this.opts.counters.inc('node.rpc_errors');
        if (!this.rpcFailing) this.opts.log.warn('cannot ask the node which connection is its own (noderpc)', { error: err.message });
        this.rpcFailing = true;
      })
      .finally(() => {
        this.identifying = false;
        if (this.identifyAgain && this.server) this.identify();
      });
  }

  /** The peer to drop to make room: never the node; see the file comment for the order. */
  private pickVictim(): NodePeer | undefined {
    let victim: NodePeer | undefined;
    for (const p of this.peers) {
      if (p.isNode || p.isClosed) continue;
      if (!victim || evictsBefore(p, victim)) victim = p;
    }
    return victim;
  }

  async close(): Promise<void> {
    for (const p of this.peers) p.close('altnet is shutting down');
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const max = Math.max(MIN_NODE_CONNECTIONS, this.opts.maxConnections ?? 8);
    if (this.peers.size >= max) {
      const victim = this.pickVictim();
      if (!victim) {
        this.opts.counters.inc('node.connections_refused');
        this.opts.log.warn('refusing a connection: too many', { from: `${socket.remoteAddress}:${socket.remotePort}`, max });
        socket.destroy();
        return;
      }
      victim.evict('at_cap', `making room for ${socket.remoteAddress}:${socket.remotePort} (${max} slots)`);
    }
    const events: NodePeerEvents = {
      ...this.opts.events,
      ready: (peer) => {
        this.identify();
        this.opts.events.ready(peer);
      },
      closed: (peer, reason) => {
        this.peers.delete(peer);
        this.opts.events.closed(peer, reason);
      },
    };
    const v2Responder =
      this.opts.v2Responder ??
      (this.opts.v2 === false
        ? undefined
        : async () => {
            // BIP324 (its session, ciphers and curve libraries) is loaded on the first v2 connection,
            // not at start: a daemon whose node speaks v1 never holds it. Measured (issue 18): the
            // bundled v2 chunk is +1.3 MB of anonymous memory in a Node with main's flags.
            const { V2Transport } = await import('./v2/transport.js');
            return new V2Transport({ magic: this.opts.network.magic, role: 'responder', counters: this.opts.counters.scoped('node.v2.') });
          });
    this.peers.add(new NodePeer(socket, { ...this.opts, events, v2Responder }));
    this.identify();
  }
}

/** Whether `a` should be evicted before `b`. */
function evictsBefore(a: NodePeer, b: NodePeer): boolean {
  if (a.hasAsked !== b.hasAsked) return !a.hasAsked;
  if (a.lastNovelAt !== b.lastNovelAt) return a.lastNovelAt < b.lastNovelAt;
  return a.lastProgressAt < b.lastProgressAt;
}
