// The node's own view, read over its RPC (`noderpc=`): its active tip (getchaintips) and how far
// each of its other peers has shown it headers (getpeerinfo `synced_headers`). The watchdog sets
// this against the links' validated chain (peers-disagree). Parsing is defensive: the RPC is the
// user's node, but a field missing in another Core version must not crash anything.
import { NodeRpcError, type NodeRpc } from '../node/rpc.js';

export interface NodeViewPeer {
  id: number;
  addr: string;
  inbound: boolean;
  /** Last header the node has in common with this peer; -1 when none yet. */
  syncedHeaders: number;
}

export interface NodeView {
  activeHeight: number;
  /** Display order (RPC hex). */
  activeHash: string;
  /** Peers other than altnet's connection. */
  peers: NodeViewPeer[];
  /** Highest syncedHeaders among them, -1 when none. */
  peersBestHeight: number;
}

const num = (v: unknown, dflt: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : dflt);

function portOf(addr: string): number | undefined {
  const m = /:(\d+)$/.exec(addr);
  return m ? Number(m[1]) : undefined;
}

/** Reads the node's view; `listenPort` identifies altnet's own connection (node -> our port). */
export async function readNodeView(rpc: Pick<NodeRpc, 'call'>, listenPort: number): Promise<NodeView> {
  const [tips, info] = await Promise.all([rpc.call<unknown>('getchaintips'), rpc.call<unknown>('getpeerinfo')]);
  if (!Array.isArray(tips) || !Array.isArray(info)) throw new NodeRpcError('node RPC getchaintips/getpeerinfo did not return lists');
  const active = tips.find((t) => (t as { status?: unknown })?.status === 'active') as { height?: unknown; hash?: unknown } | undefined;
  if (!active || typeof active.hash !== 'string' || !/^[0-9a-f]{64}$/.test(active.hash)) {
    throw new NodeRpcError('node RPC getchaintips has no active tip');
  }
  const peers: NodeViewPeer[] = [];
  for (const raw of info as Array<Record<string, unknown>>) {
    if (typeof raw !== 'object' || raw === null) continue;
    const addr = typeof raw.addr === 'string' ? raw.addr : '';
    const inbound = raw.inbound === true;
    if (!inbound && portOf(addr) === listenPort) continue; // altnet itself
    peers.push({ id: num(raw.id, -1), addr, inbound, syncedHeaders: num(raw.synced_headers, -1) });
  }
  return {
    activeHeight: num(active.height, 0),
    activeHash: active.hash,
    peers,
    peersBestHeight: peers.reduce((m, p) => Math.max(m, p.syncedHeaders), -1),
  };
}
