// The spine end to end: altnet between two real Bitcoin Core 30.2 regtest nodes.
// Node A is eclipsed (its only peer is altnet); node B mines. Headers from B reach altnet
// through a plain in-process source, altnet validates them and feeds them to A.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../src/chain/networks.js';
import { checkProofOfWork, headerHash } from '../../src/chain/header.js';
import { hashToHex } from '../../src/util/bytes.js';
import { BitcoindProcess } from '../harness/bitcoind.js';
import { headersFromNode, startNodeSide } from '../harness/gateway.js';

describe('spine: B mines, altnet relays validated headers, eclipsed A follows', () => {
  let side: Awaited<ReturnType<typeof startNodeSide>>;
  let nodeA: BitcoindProcess;
  let nodeB: BitcoindProcess;

  beforeAll(async () => {
    side = await startNodeSide(NETWORKS.regtest);
    nodeA = new BitcoindProcess({ name: 'A', args: [`-addnode=127.0.0.1:${side.port}`] });
    nodeB = new BitcoindProcess({ name: 'B' });
    await Promise.all([nodeA.start(), nodeB.start()]);
    await nodeA.waitFor('altnet connected to A', async () => side.server.readyPeers().length === 1);
  });

  afterAll(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await side?.close();
  });

  it("A's header chain reaches B's tip and A keeps altnet as a peer", async () => {
    await nodeB.mine(120);
    const bTip = await nodeB.rpc<string>('getbestblockhash');
    const result = side.router.onLinkHeaders('source', await headersFromNode(nodeB, 1));
    expect(result.rejected).toBeUndefined();
    expect(result.accepted).toBe(120);
    expect(result.sentToNode).toBe(120);

    await nodeA.waitFor("A has B's headers", async () => {
      const tips = await nodeA.rpc<any[]>('getchaintips');
      return tips.some((t) => t.hash === bTip && t.height === 120);
    });
    const info = await nodeA.rpc<any>('getblockchaininfo');
    expect(info.headers).toBe(120);
    const peers = await nodeA.rpc<any[]>('getpeerinfo');
    expect(peers.map((p) => p.subver)).toEqual(['/altnet:0.1.0/']);
    expect(await nodeA.rpc<any[]>('listbanned')).toEqual([]);
  });

  it('follows B as it keeps mining, batch after batch', async () => {
    await nodeB.mine(5);
    const bTip = await nodeB.rpc<string>('getbestblockhash');
    side.router.onLinkHeaders('source', await headersFromNode(nodeB, 121));
    await nodeA.waitFor('A at 125', async () => (await nodeA.rpc<any>('getblockchaininfo')).headers === 125);
    expect(hashToHex(side.chain.tip().hash)).toBe(bTip);
  });

  it('never passes an invalid header to A, and A never drops or bans altnet', async () => {
    const before = (await nodeA.rpc<any>('getblockchaininfo')).headers;
    await nodeB.mine(3);
    const fresh = await headersFromNode(nodeB, before + 1);
    // Regtest's target passes half of all hashes, so find a nonce whose hash provably fails it.
    // Wrong parent: does not connect.
    const badPow = Uint8Array.from(fresh[0]);
    do badPow[76]++;
    while (checkProofOfWork(badPow, NETWORKS.regtest.powLimit));
    const orphan = Uint8Array.from(fresh[1]);
    orphan[4] ^= 0xff;
    const r1 = side.router.onLinkHeaders('liar', [badPow]);
    const r2 = side.router.onLinkHeaders('liar', [orphan]);
    expect(r1.rejected?.code).toBe('bad-pow');
    expect(r2.rejected?.code).toBe('prev-not-found');
    expect(r1.sentToNode + r2.sentToNode).toBe(0);
    expect(side.counters.get('link.liar.invalid_headers')).toBe(2);

    // The honest headers still go through afterwards.
    side.router.onLinkHeaders('source', fresh);
    const tip = hashToHex(headerHash(fresh[fresh.length - 1]));
    await nodeA.waitFor('A has the honest headers', async () => {
      const tips = await nodeA.rpc<any[]>('getchaintips');
      return tips.some((t) => t.hash === tip);
    });
    const tips = await nodeA.rpc<any[]>('getchaintips');
    expect(tips.some((t) => t.hash === hashToHex(headerHash(badPow)))).toBe(false);
    const peers = await nodeA.rpc<any[]>('getpeerinfo');
    expect(peers).toHaveLength(1);
    expect(await nodeA.rpc<any[]>('listbanned')).toEqual([]);
    const misbehaving = nodeA.grepLog(/Misbehaving|discourag/i);
    if (misbehaving.length) console.log(misbehaving);
    expect(misbehaving).toEqual([]);
  });
});

describe('altnet never makes the node wait on it for blocks', () => {
  let side: Awaited<ReturnType<typeof startNodeSide>>;
  let nodeC: BitcoindProcess;
  let nodeD: BitcoindProcess;

  beforeAll(async () => {
    side = await startNodeSide(NETWORKS.regtest);
    nodeC = new BitcoindProcess({ name: 'C', args: [`-addnode=127.0.0.1:${side.port}`] });
    nodeD = new BitcoindProcess({ name: 'D' });
    await Promise.all([nodeC.start(), nodeD.start()]);
    await nodeC.waitFor('altnet connected to C', async () => side.server.readyPeers().length === 1);
  });

  afterAll(async () => {
    await Promise.all([nodeC?.stop(), nodeD?.stop()]);
    await side?.close();
  });

  it('announces headers to a node with a fresh tip without being asked for their blocks', async () => {
    // C has D's first 5 blocks (a fresh tip). Core fetches the blocks of newly announced headers
    // at once from the announcing peer if that peer claims to serve (witness) blocks; altnet
    // claims nothing, so C must not ask it: that would end in a download timeout and a drop.
    await nodeD.mine(5);
    for (let h = 1; h <= 5; h++) await nodeC.rpc('submitblock', await nodeD.rpc('getblock', await nodeD.rpc('getblockhash', h), 0));
    expect(await nodeC.rpc<number>('getblockcount')).toBe(5);
    side.router.onLinkHeaders('source', await headersFromNode(nodeD, 1));
    await nodeD.mine(3);
    const getdataBefore = side.counters.get('node.msg_in.getdata');
    side.router.onLinkHeaders('source', await headersFromNode(nodeD, 6));
    const dTip = await nodeD.rpc<string>('getbestblockhash');
    await nodeC.waitFor('C has the new headers', async () => (await nodeC.rpc<any[]>('getchaintips')).some((t) => t.hash === dTip));
    await new Promise((r) => setTimeout(r, 2000));
    expect(side.counters.get('node.msg_in.getdata')).toBe(getdataBefore);
    const peer = (await nodeC.rpc<any[]>('getpeerinfo'))[0];
    expect(peer.inflight).toEqual([]);
    expect(peer.servicesnames).toEqual([]);
  });
});
