// What altnet knows of each node-port connection's chain, kept per connection: no peer's claims
// change what another peer is sent, so a local process that connects first and announces a
// chain cannot make altnet stop pushing headers to the real node.
//  - bestHeader: the best header the peer has (it announced it, named it first in a locator, or
//    we sent it and nothing said otherwise);
//  - bestBlock: the best block it holds: Core announces and answers getheaders from its active
//    chain, so the newest header it sent us is a block it has (what a block push starts from);
//  - locator: its last getheaders locator, to find what it lacks when bestHeader is unknown.
import type { NodePeer } from '../node/peer.js';

export interface PeerChain {
  bestHeader?: Uint8Array;
  bestBlock?: Uint8Array;
  locator: Uint8Array[];
}

/** Most locator entries kept per peer (Core sends about 30). */
const MAX_LOCATOR = 32;

export class PeerChains {
  private readonly byPeer = new Map<NodePeer, PeerChain>();

  get(peer: NodePeer): PeerChain {
    let s = this.byPeer.get(peer);
    if (!s) this.byPeer.set(peer, (s = { locator: [] }));
    return s;
  }

  /** What we know of a peer, without creating an entry. */
  peek(peer: NodePeer): PeerChain | undefined {
    return this.byPeer.get(peer);
  }

  setLocator(peer: NodePeer, locator: Uint8Array[]): void {
    this.get(peer).locator = locator.slice(0, MAX_LOCATOR);
  }

  forget(peer: NodePeer): void {
    this.byPeer.delete(peer);
  }
}
