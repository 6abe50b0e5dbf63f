// In-process altnet parts for tests: a whole gateway on loopback, or just the node side (header
// chain + router + node listener).
import { HeaderChain } from '../../src/chain/chain.js';
import { NETWORKS, type NetworkParams } from '../../src/chain/networks.js';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import { Router, type GatewayMode } from '../../src/gateway/router.js';
import { NodeServer } from '../../src/node/server.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import { fromHex } from '../../src/util/bytes.js';
import { freePort, type BitcoindProcess } from './bitcoind.js';

/**
 * A gateway for tests: its node port on a free loopback port, its chain from genesis
 * (checkpoint null), regtest and a memory logger unless `o` says otherwise.
 */
export function startTestGateway(o: Partial<GatewayOptions> & Pick<GatewayOptions, 'links'>): Promise<Gateway> {
  return Gateway.start({ network: NETWORKS.regtest, listen: { host: '127.0.0.1', port: 0 }, log: memoryLogger(), checkpoint: null, ...o });
}

export async function startNodeSide(network: NetworkParams, opts: { mode?: GatewayMode } = {}) {
  const log = memoryLogger();
  const counters = new Counters();
  const chain = new HeaderChain({ network, log: log.child('chain'), counters: counters.scoped('chain.'), checkpoint: null });
  let server: NodeServer | undefined;
  const router = new Router({ chain, log: log.child('router'), counters, mode: opts.mode, nodePeers: () => server?.readyPeers() ?? [] });
  const port = await freePort();
  server = new NodeServer({ host: '127.0.0.1', port, network, log: log.child('node'), counters, chain, events: router.nodeEvents });
  await server.listen();
  return { log, counters, chain, router, server, port, close: () => server!.close() };
}

/** Raw headers of a bitcoind's best chain from height `from` to its tip, over RPC. */
export async function headersFromNode(node: BitcoindProcess, from: number): Promise<Uint8Array[]> {
  const tip = await node.rpc<number>('getblockcount');
  const out: Uint8Array[] = [];
  for (let h = from; h <= tip; h++) {
    const hash = await node.rpc<string>('getblockhash', h);
    out.push(fromHex(await node.rpc<string>('getblockheader', hash, false)));
  }
  return out;
}
