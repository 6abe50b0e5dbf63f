// The TCP listener the node dials (`addnode=127.0.0.1:8334`). It accepts a small, bounded
// number of connections, each handled by a NodePeer.
import { createServer, type Server, type Socket } from 'node:net';
import { isLoopback } from '../util/net.js';
import { ConfigError } from '../util/errors.js';
import { NodePeer, type NodePeerDeps, type NodePeerEvents } from './peer.js';
import { V2Transport } from './v2/transport.js';

export interface NodeServerOptions extends Omit<NodePeerDeps, 'events'> {
  host: string;
  port: number;
  /** Listening beyond loopback exposes the peer port; refused unless asked for. */
  allowRemote?: boolean;
  maxConnections?: number;
  /** Answer BIP324 v2 connections (default). With false, v2 is refused and the node retries v1. */
  v2?: boolean;
  events: NodePeerEvents;
}

export class NodeServer {
  private server: Server | undefined;
  private readonly peers = new Set<NodePeer>();

  constructor(private readonly opts: NodeServerOptions) {
    if (!opts.allowRemote && !isLoopback(opts.host)) {
      throw new ConfigError('listen-not-loopback', `refusing to listen on ${opts.host}: the node peer port is for the local node; use a loopback address or set allowremote=1`);
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
    this.opts.log.info('listening for the node', { address: `${this.opts.host}:${port}` });
    return port;
  }

  /** Connected peers that completed the handshake. */
  readyPeers(): NodePeer[] {
    return [...this.peers].filter((p) => p.isReady);
  }

  async close(): Promise<void> {
    for (const p of this.peers) p.close('altnet is shutting down');
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const max = this.opts.maxConnections ?? 8;
    if (this.peers.size >= max) {
      this.opts.counters.inc('node.connections_refused');
      this.opts.log.warn('refusing a connection: too many', { from: `${socket.remoteAddress}:${socket.remotePort}`, max });
      socket.destroy();
      return;
    }
    const events: NodePeerEvents = {
      ...this.opts.events,
      closed: (peer, reason) => {
        this.peers.delete(peer);
        this.opts.events.closed(peer, reason);
      },
    };
    const v2Responder =
      this.opts.v2Responder ??
      (this.opts.v2 === false
        ? undefined
        : () => new V2Transport({ magic: this.opts.network.magic, role: 'responder', counters: this.opts.counters.scoped('node.v2.') }));
    this.peers.add(new NodePeer(socket, { ...this.opts, events, v2Responder }));
  }
}
