// Bitcoin Core 30.2 offline on mainnet (no peers but altnet) takes the real first 10,000
// mainnet headers from altnet: the node asks for more 2000 at a time and altnet answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { NETWORKS } from '../../src/chain/networks.js';
import { headerHash } from '../../src/chain/header.js';
import { hashToHex } from '../../src/util/bytes.js';
import { BitcoindProcess } from '../harness/bitcoind.js';
import { startNodeSide } from '../harness/gateway.js';
import { SHARED_DATA } from '../harness/data.js';

describe('mainnet, offline: the genesis-era headers through altnet', () => {
  let side: Awaited<ReturnType<typeof startNodeSide>>;
  let node: BitcoindProcess;
  const file = new Uint8Array(readFileSync(SHARED_DATA.genesisEraHeaders));
  const headers = Array.from({ length: file.length / 80 }, (_, i) => file.subarray(i * 80, i * 80 + 80));

  beforeAll(async () => {
    side = await startNodeSide(NETWORKS.main);
    node = new BitcoindProcess({ name: 'main', chain: 'main', args: [`-addnode=127.0.0.1:${side.port}`] });
    await node.start();
    await node.waitFor('altnet connected', async () => side.server.readyPeers().length === 1);
  });

  afterAll(async () => {
    await node?.stop();
    await side?.close();
  });

  it("the node's header chain ends at block 9999 of real mainnet", async () => {
    // Genesis is the chain's root; the other 9,999 headers come from the "link".
    const result = side.router.onLinkHeaders('file', headers.slice(1));
    expect(result.rejected).toBeUndefined();
    expect(result.accepted).toBe(9999);
    const lastHash = hashToHex(headerHash(headers[9999]));
    const info = await node.waitFor(
      'all 9,999 headers at the node',
      async () => {
        const i = await node.rpc<any>('getblockchaininfo');
        return i.headers === 9999 && i;
      },
      120_000,
    );
    expect(info.chain).toBe('main');
    const tips = await node.rpc<any[]>('getchaintips');
    expect(tips.find((t) => t.height === 9999)?.hash).toBe(lastHash);
    expect(await node.rpc<any[]>('listbanned')).toEqual([]);
    expect((await node.rpc<any[]>('getpeerinfo')).length).toBe(1);
    // The node pulled the rest with getheaders after the first batch of 2000.
    expect(side.counters.get('node.msg_in.getheaders')).toBeGreaterThanOrEqual(4);
  });
});
