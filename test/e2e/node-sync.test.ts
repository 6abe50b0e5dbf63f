// altnet learns the node's whole header chain, however far ahead of altnet the node is:
// full batches of 2000 are followed by more getheaders, as Bitcoin Core itself syncs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../src/chain/networks.js';
import { hashToHex } from '../../src/util/bytes.js';
import { BitcoindProcess } from '../harness/bitcoind.js';
import { startNodeSide } from '../harness/gateway.js';

describe('altnet syncs the headers of a node that is far ahead', () => {
  let side: Awaited<ReturnType<typeof startNodeSide>>;
  let node: BitcoindProcess;

  beforeAll(async () => {
    side = await startNodeSide(NETWORKS.regtest);
    // Mined before altnet is reachable, so the node cannot announce them one by one.
    node = new BitcoindProcess({ name: 'ahead' });
    await node.start();
    await node.mine(4500);
    await node.rpc('addnode', `127.0.0.1:${side.port}`, 'onetry');
  });

  afterAll(async () => {
    await node?.stop();
    await side?.close();
  });

  it("follows full batches with more requests until it has the node's tip", async () => {
    const tip = await node.rpc<string>('getbestblockhash');
    await node.waitFor("altnet at the node's tip", async () => hashToHex(side.chain.tip().hash) === tip, 60_000);
    expect(side.chain.tip().height).toBe(4500);
    // 4500 = 2000 + 2000 + 500: the handshake's request plus two continuations.
    expect(side.counters.get('router.node_sync_requests')).toBe(2);
    expect(side.counters.get('node.invalid_headers')).toBe(0);
    expect(side.router.nodeTip()?.height).toBe(4500);
  });

  it("then takes the node's new blocks as announcements that connect", async () => {
    // Once synced, the node announces each new block by headers, and nothing needs re-asking.
    await node.mine(2);
    await node.waitFor('the announced blocks', async () => side.chain.tip().height === 4502);
    expect(side.counters.get('router.node_unconnecting')).toBe(0);
  });
});
