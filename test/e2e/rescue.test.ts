// The rescue end to end with real Bitcoin Core 30.2 nodes: node A is eclipsed on an attacker's
// fork (a real one: mined to another address), honest node B mines more. Headers reach A's
// receive-only gateway over a (simulated) LoRa channel from B's beacon gateway; the gateway
// fetches the blocks over block-capable links, verifies them and pushes them to A, until A's
// active tip is B's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway, type LinkSpec } from '../../src/gateway/gateway.js';
import type { RescueRecord } from '../../src/gateway/rescue.js';
import { memoryLogger } from '../../src/util/log.js';
import { Counters } from '../../src/util/counters.js';
import { hexToHash, toHex } from '../../src/util/bytes.js';
import { P2PLink } from '../../src/links/p2p/p2p.js';
import { startBeacon, startTestAir, type TestAir } from '../harness/air.js';
import { ATTACKER_ADDRESS, BitcoindProcess } from '../harness/bitcoind.js';
import { startBlockServer, type BlockServer } from '../servers/block-server.js';

interface Scene {
  air: TestAir;
  beacon: Gateway;
  nodeB: BitcoindProcess;
  nodeA: BitcoindProcess;
  stop(): Promise<void>;
}

/** B mines `prefix` blocks that A also gets; B's beacon gateway sends headers over the air. */
async function scene(prefix: number): Promise<Scene> {
  const air = await startTestAir({ seed: 3 });
  const beacon = await startBeacon(air, { linkName: 'lora' });
  const nodeB = new BitcoindProcess({ name: 'B', args: [`-addnode=127.0.0.1:${beacon.nodePort}`] });
  const nodeA = new BitcoindProcess({ name: 'A' });
  await Promise.all([nodeA.start(), nodeB.start()]);
  await nodeB.mine(prefix);
  await nodeA.copyBlocksFrom(nodeB, 1);
  return {
    air,
    beacon,
    nodeB,
    nodeA,
    stop: async () => {
      await Promise.allSettled([nodeA.stop(), nodeB.stop()]);
      await beacon.stop();
      await air.air.close();
    },
  };
}

/** A's receive-only gateway: the LoRa link for headers plus the given block links. */
async function receiverFor(s: Scene, blockLinks: LinkSpec[], rpc: boolean) {
  const log = memoryLogger();
  const gw = await Gateway.start({
    network: NETWORKS.regtest,
    listen: { host: '127.0.0.1', port: 0 },
    mode: 'receive-only',
    links: [s.air.link('lora', 'rx'), ...blockLinks],
    log,
    checkpoint: null,
    blockFetchTimeoutMs: 5000,
    nodeRpc: rpc ? { host: '127.0.0.1', port: s.nodeA.rpcPort, user: 'altnet', password: 'altnet-test' } : undefined,
  });
  return { gw, log };
}

function p2pBlocks(name: string, node: BitcoindProcess): LinkSpec {
  return { name, type: 'p2p', options: { type: 'p2p', peer: `127.0.0.1:${node.p2pPort}`, headers: '0', timeout: '5000' } };
}

function esploraBlocks(name: string, server: BlockServer): LinkSpec {
  return { name, type: 'esplora', options: { type: 'esplora', url: server.url, headers: '0', poll: '0', rate: '0', timeout: '5000' } };
}

async function waitRescued(s: Scene, gw: Gateway, log: { lines: string[] }, timeoutMs = 40_000): Promise<string> {
  const bTip = await s.nodeB.rpc<string>('getbestblockhash');
  await s.nodeA
    .waitFor("A's active tip to be B's", async () => (await s.nodeA.rpc<string>('getbestblockhash')) === bTip, timeoutMs)
    .catch((e: Error) => {
      throw new Error(
        `${e.message}\nrescues: ${JSON.stringify(gw.rescue.records(), null, 1)}\n--- gateway log ---\n${log.lines.slice(-60).join('\n')}`,
      );
    });
  return bTip;
}

/**
 * The rescue records of one catch-up merged, as the demo sums them: the beacon's aligned
 * 16-header batches may bring the honest headers in two steps, one rescue each. Waits until
 * every record is done, then gives the first record's fork point, the last one's final tip,
 * and block sources and deliveries added up.
 */
async function rescueEpisode(s: Scene, gw: Gateway): Promise<RescueRecord> {
  await s.nodeA.waitFor(
    'rescue recorded',
    async () => gw.rescue.records().every((x) => x.state === 'done') && gw.rescue.records().length > 0,
    10_000,
  );
  const all = gw.rescue.records(); // newest first
  const first = all[all.length - 1];
  const blockSources: Record<string, number> = {};
  for (const x of all) for (const [k, v] of Object.entries(x.blockSources)) blockSources[k] = (blockSources[k] ?? 0) + v;
  return {
    ...all[0],
    forkHeight: first.forkHeight,
    headerLink: first.headerLink,
    blockSources,
    deliveredVia: { p2p: all.reduce((n, x) => n + x.deliveredVia.p2p, 0), rpc: all.reduce((n, x) => n + x.deliveredVia.rpc, 0) },
  };
}

describe('rescue: attacker node C eclipses A on its own fork; blocks over a p2p link', () => {
  let s: Scene;
  let nodeC: BitcoindProcess;
  let receiver: Awaited<ReturnType<typeof receiverFor>>;

  beforeAll(async () => {
    s = await scene(10);
    nodeC = new BitcoindProcess({ name: 'C' });
    await nodeC.start();
    await nodeC.copyBlocksFrom(s.nodeB, 1);
    // A's only peer is the attacker, which mines its own chain and never relays B's.
    await s.nodeA.rpc('addnode', `127.0.0.1:${nodeC.p2pPort}`, 'add');
    await s.nodeA.waitFor('A connected to C', async () => (await s.nodeA.rpc<unknown[]>('getpeerinfo')).length === 1);
    await nodeC.mine(3, ATTACKER_ADDRESS);
    const cTip = await nodeC.rpc<string>('getbestblockhash');
    await s.nodeA.waitFor('A on the attacker chain', async () => (await s.nodeA.rpc<string>('getbestblockhash')) === cTip);
    await s.nodeB.mine(6);
  });

  afterAll(async () => {
    await receiver?.gw.stop();
    await nodeC?.stop();
    await s?.stop();
  });

  it("A ends on B's chain: headers over LoRa, blocks verified from the p2p link, attacker blocks orphaned", async () => {
    const cTip = await nodeC.rpc<string>('getbestblockhash');
    receiver = await receiverFor(s, [p2pBlocks('honest', s.nodeB)], true);
    await s.nodeA.rpc('addnode', `127.0.0.1:${receiver.gw.nodePort}`, 'onetry');
    const bTip = await waitRescued(s, receiver.gw, receiver.log);

    const tips = await s.nodeA.rpc<Array<{ hash: string; status: string }>>('getchaintips');
    expect(tips.find((t) => t.hash === cTip)?.status).toBe('valid-fork');
    const r = await rescueEpisode(s, receiver.gw);
    expect(r.headerLink).toBe('lora');
    expect(Object.keys(r.blockSources)).toEqual(['honest']);
    expect(r.finalTip?.hash).toBe(bTip);
    expect(r.forkHeight).toBe(10);
    // Blocks 11, 12 have less work than A's attacker tip at 13: Core ignores them unrequested,
    // so they went over RPC; 13..16 as unsolicited P2P blocks.
    expect(r.deliveredVia.rpc).toBe(2);
    expect(r.deliveredVia.p2p).toBe(4);
    expect(receiver.log.lines.some((l) => l.includes('rescue complete'))).toBe(true);

    // A never disconnected or punished altnet: still its peer, nothing in debug.log.
    const peers = await s.nodeA.rpc<Array<{ subver: string }>>('getpeerinfo');
    expect(peers.map((p) => p.subver)).toContain('/altnet:0.1.0/');
    expect(receiver.gw.counters.get('node.connections')).toBe(1);
    expect(s.nodeA.grepLog(/Misbehaving|discourag|disconnecting peer/i)).toEqual([]);
  }, 90_000);
});

describe("rescue: blocks over an esplora link (a local server serving B's raw blocks)", () => {
  let s: Scene;
  let server: BlockServer;
  let receiver: Awaited<ReturnType<typeof receiverFor>>;

  beforeAll(async () => {
    s = await scene(10);
    // A's own fork, mined to the attacker's address (the attacker fed A these blocks).
    await s.nodeA.mine(3, ATTACKER_ADDRESS);
    await s.nodeB.mine(6);
    server = await startBlockServer(s.nodeB);
  });

  afterAll(async () => {
    await receiver?.gw.stop();
    await server?.close();
    await s?.stop();
  });

  it("A ends on B's chain with every block from the esplora server", async () => {
    receiver = await receiverFor(s, [esploraBlocks('esplora', server)], true);
    await s.nodeA.rpc('addnode', `127.0.0.1:${receiver.gw.nodePort}`, 'onetry');
    const bTip = await waitRescued(s, receiver.gw, receiver.log);
    const r = await rescueEpisode(s, receiver.gw);
    expect(r.blockSources).toEqual({ esplora: 6 });
    expect(r.finalTip?.hash).toBe(bTip);
    expect(server.served.length).toBeGreaterThanOrEqual(6);
  }, 90_000);
});

describe('rescue: sources serving a wrong merkle root and a wrong witness commitment', () => {
  let s: Scene;
  const servers: BlockServer[] = [];
  let receiver: Awaited<ReturnType<typeof receiverFor>>;

  beforeAll(async () => {
    s = await scene(10);
    await s.nodeA.mine(3, ATTACKER_ADDRESS);
    await s.nodeB.mine(6);
    servers.push(await startBlockServer(s.nodeB, 'merkle'), await startBlockServer(s.nodeB, 'witness'), await startBlockServer(s.nodeB));
  });

  afterAll(async () => {
    await receiver?.gw.stop();
    await Promise.all(servers.map((x) => x.close()));
    await s?.stop();
  });

  it('neither bad block reaches A, both sources are marked, the blocks come from the honest one', async () => {
    const [badMerkle, badWitness, good] = servers;
    receiver = await receiverFor(
      s,
      [esploraBlocks('bad-merkle', badMerkle), esploraBlocks('bad-witness', badWitness), esploraBlocks('good', good)],
      true,
    );
    await s.nodeA.rpc('addnode', `127.0.0.1:${receiver.gw.nodePort}`, 'onetry');
    await waitRescued(s, receiver.gw, receiver.log);
    const r = await rescueEpisode(s, receiver.gw);
    expect(r.blockSources).toEqual({ good: 6 });
    // Both liars were asked and caught, each by its own rule, and are asked nothing more.
    expect(badMerkle.served.length).toBeGreaterThan(0);
    expect(badWitness.served.length).toBeGreaterThan(0);
    const c = receiver.gw.counters;
    expect(c.get('link.bad-merkle.invalid.block-bad-merkle-root')).toBeGreaterThan(0);
    expect(c.get('link.bad-witness.invalid.block-bad-witness-commitment')).toBeGreaterThan(0);
    expect([...receiver.gw.rescue.fetcher.marked.keys()].sort()).toEqual(['bad-merkle', 'bad-witness']);
    const servedBefore = badMerkle.served.length + badWitness.served.length;
    // A holds exactly B's blocks, and never saw a bad one (Core would log and punish it).
    for (let h = 11; h <= 16; h++) {
      const hash = await s.nodeB.rpc<string>('getblockhash', h);
      expect(await s.nodeA.rpc<string>('getblock', hash, 0)).toBe(await s.nodeB.rpc<string>('getblock', hash, 0));
    }
    expect(s.nodeA.grepLog(/bad-txnmrklroot|bad-witness-merkle-match|Misbehaving|discourag/i)).toEqual([]);
    expect(badMerkle.served.length + badWitness.served.length).toBe(servedBefore);
  }, 90_000);
});

describe('rescue over P2P alone: A held back (stale tip), no node RPC', () => {
  let s: Scene;
  let receiver: Awaited<ReturnType<typeof receiverFor>>;

  beforeAll(async () => {
    s = await scene(10);
    await s.nodeB.mine(8);
  });

  afterAll(async () => {
    await receiver?.gw.stop();
    await s?.stop();
  });

  it("unsolicited blocks in chain order move A to B's tip; A logs no misbehaviour and never disconnects altnet", async () => {
    receiver = await receiverFor(s, [p2pBlocks('honest', s.nodeB)], false);
    await s.nodeA.rpc('addnode', `127.0.0.1:${receiver.gw.nodePort}`, 'onetry');
    await s.nodeA.waitFor('altnet connected', async () => (await s.nodeA.rpc<unknown[]>('getpeerinfo')).length === 1);
    const connectedAt = (await s.nodeA.rpc<Array<{ conntime: number; id: number }>>('getpeerinfo'))[0];
    const bTip = await waitRescued(s, receiver.gw, receiver.log);
    await s.nodeA.waitFor('rescue recorded', async () => receiver.gw.rescue.records()[0]?.state === 'done', 10_000);
    // The beacon's aligned 16-header batches may bring 11..16 and 17..18 apart: one rescue each.
    const all = receiver.gw.rescue.records();
    expect(
      all.every((x) => x.state === 'done'),
      JSON.stringify(all),
    ).toBe(true);
    expect(all.reduce((n, x) => n + x.deliveredVia.p2p, 0)).toBe(8);
    expect(all.reduce((n, x) => n + x.deliveredVia.rpc, 0)).toBe(0);
    expect(all[0].finalTip?.hash).toBe(bTip);
    // Same connection throughout (same peer id and connect time), nothing punished.
    const peers = await s.nodeA.rpc<Array<{ conntime: number; id: number; subver: string; servicesnames: string[] }>>('getpeerinfo');
    expect(peers).toHaveLength(1);
    expect(peers[0].id).toBe(connectedAt.id);
    expect(peers[0].conntime).toBe(connectedAt.conntime);
    expect(peers[0].servicesnames).toEqual([]);
    expect(receiver.gw.counters.get('node.connections')).toBe(1);
    expect(receiver.gw.counters.get('node.msg_in.getdata')).toBe(0);
    expect(s.nodeA.grepLog(/Misbehaving|discourag|disconnecting|stalling/i)).toEqual([]);
    expect(await s.nodeA.rpc<unknown[]>('listbanned')).toEqual([]);

    // altnet answers getdata for a block it holds, and notfound for one it does not.
    const asker = new P2PLink(
      { name: 'asker', host: '127.0.0.1', port: receiver.gw.nodePort, v2: false, timeoutMs: 5000 },
      {
        log: memoryLogger(),
        counters: new Counters(),
        network: NETWORKS.regtest,
        events: { headers: () => {}, tx: () => {}, state: () => {} },
      },
    );
    try {
      const hash = await s.nodeB.rpc<string>('getblockhash', 15);
      const got = await asker.fetchBlock(hexToHash(hash));
      expect(toHex(got)).toBe(await s.nodeB.rpc<string>('getblock', hash, 0));
      await expect(asker.fetchBlock(new Uint8Array(32).fill(9))).rejects.toThrow(/notfound/);
    } finally {
      await asker.stop();
    }
  }, 90_000);
});

describe('rescue from a fork without node RPC', () => {
  let s: Scene;
  let receiver: Awaited<ReturnType<typeof receiverFor>>;

  beforeAll(async () => {
    s = await scene(10);
    await s.nodeA.mine(3, ATTACKER_ADDRESS);
    await s.nodeB.mine(6);
  });

  afterAll(async () => {
    await receiver?.gw.stop();
    await s?.stop();
  });

  it('says why it cannot finish: Core ignores the honest blocks below the attacker tip, noderpc= is needed', async () => {
    const aTip = await s.nodeA.rpc<string>('getbestblockhash');
    receiver = await receiverFor(s, [p2pBlocks('honest', s.nodeB)], false);
    await s.nodeA.rpc('addnode', `127.0.0.1:${receiver.gw.nodePort}`, 'onetry');
    await s.nodeA.waitFor(
      'the rescue to say why it is blocked',
      async () => /set noderpc=/.test(receiver.gw.rescue.records()[0]?.reason ?? ''),
      30_000,
    );
    const r = receiver.gw.rescue.records()[0];
    expect(r.forkHeight).toBe(10);
    expect(r.nodeTipAtStart?.height).toBe(13);
    expect(r.deliveredVia).toEqual({ p2p: 0, rpc: 0 });
    expect(receiver.log.lines.some((l) => l.includes('rescue blocked'))).toBe(true);
    expect(await s.nodeA.rpc<string>('getbestblockhash')).toBe(aTip);
  }, 60_000);
});
